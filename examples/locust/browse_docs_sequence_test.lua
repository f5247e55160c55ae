-- examples/locust/browse_docs_sequence_test.lua: Locust's
-- examples/browse_docs_sequence_test.py. The same user as
-- browse_docs_test.lua, but its tasks run in order, over and over: index
-- page, a page of the table of contents, a page linked from that one.
--
--   ./cicada -f examples/locust/browse_docs_sequence_test.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Links are found with a Lua pattern instead of PyQuery (see
-- browse_docs_test.lua). The demo site has no /favicon.ico: a 404 there.

local function links(html)
  local out = {}
  for href in html:gmatch("<a%s[^>]-href=\"([^\"]+)\"") do
    if not href:find("^%a[%w+.-]*:") and not href:find("^#") then
      href = href:gsub("#.*$", "")
      if href:sub(1, 1) ~= "/" then href = "/" .. href end
      out[#out + 1] = href
    end
  end
  return out
end

local function choice(list)
  if list == nil or #list == 0 then return "/" end
  return list[math.random(#list)]
end

BrowseDocumentationSequence = cicada.sequential_taskset {}

function BrowseDocumentationSequence:on_start()
  self.urls_on_current_page, self.toc_urls = nil, nil
end

-- assume all users arrive at the index page
BrowseDocumentationSequence:task(function(self) -- index_page
  local r = self.client:get("/")
  self.toc_urls = links(r.text)
  -- it is fine to do multiple requests in a single task, you don't need a
  -- sequential task set for that
  self.client:get("/favicon.ico")
end)

BrowseDocumentationSequence:task(function(self) -- load_page
  local url = choice(self.toc_urls)
  local r = self.client:get(url)
  self.urls_on_current_page = links(r.text)
end)

BrowseDocumentationSequence:task(function(self) -- load_sub_page
  local url = choice(self.urls_on_current_page)
  self.client:get(url)
end)

AwesomeUser = cicada.user {
  host = "https://docs.locust.io/en/latest/",
  -- someone browsing the docs waits long between pages
  wait_time = cicada.between(20, 600),
}
AwesomeUser:task(BrowseDocumentationSequence)
