-- examples/locust/browse_docs_test.lua: Locust's examples/browse_docs_test.py.
-- This test simulates a user browsing the Locust documentation on
-- https://docs.locust.io/ (run it against your own site with -H):
--
--   ./cicada -f examples/locust/browse_docs_test.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Locust parses pages with PyQuery (".toctree-wrapper a.internal"); Lua has
-- no HTML parser built in, so links() below picks the site's own links out
-- of the HTML with a Lua pattern: every <a href> that is not absolute
-- (http://...) or an anchor (#...).

local function links(html)
  local out = {}
  for href in html:gmatch("<a%s[^>]-href=\"([^\"]+)\"") do
    if not href:find("^%a[%w+.-]*:") and not href:find("^#") then
      href = href:gsub("#.*$", "")
      if href:sub(1, 1) ~= "/" then href = "/" .. href end -- relative to the host's path
      out[#out + 1] = href
    end
  end
  return out
end

local function choice(list)
  if #list == 0 then return "/" end
  return list[math.random(#list)]
end

BrowseDocumentation = cicada.taskset {}

-- Tasks are methods of the task set, so that on_start can call them too.
function BrowseDocumentation:index_page()
  local r = self.client:get("/")
  self.toc_urls = links(r.text)
end

function BrowseDocumentation:load_page()
  local url = choice(self.toc_urls)
  local r = self.client:get(url)
  self.urls_on_current_page = links(r.text)
end

function BrowseDocumentation:load_sub_page()
  local url = choice(self.urls_on_current_page)
  self.client:get(url)
end

function BrowseDocumentation:on_start()
  -- assume all users arrive at the index page
  self:index_page()
  self.urls_on_current_page = self.toc_urls
end

BrowseDocumentation:task { BrowseDocumentation.index_page, weight = 10, name = "index_page" }
BrowseDocumentation:task { BrowseDocumentation.load_page, weight = 50, name = "load_page" }
BrowseDocumentation:task { BrowseDocumentation.load_sub_page, weight = 30, name = "load_sub_page" }

AwesomeUser = cicada.user {
  host = "https://docs.locust.io/en/latest/",
  -- we assume someone who is browsing the Locust docs generally has a quite
  -- long waiting time (between 20 and 600 seconds), since there's a bunch of
  -- text on each page
  wait_time = cicada.between(20, 600),
}
AwesomeUser:task(BrowseDocumentation) -- tasks = [BrowseDocumentation]
