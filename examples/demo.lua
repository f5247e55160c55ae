-- examples/demo.lua: a load test of cicada's built-in demo site.
--
-- Start the site and run this scenario with `make run`, or by hand:
--
--   ./cicada demo-server --port 8080 &
--   ./cicada -f examples/demo.lua --headless -u 50 -r 10 -t 30s
--
-- (or without --headless, then open http://127.0.0.1:8089 to start it).
--
-- A scenario describes how ONE user behaves, as plain sequential code.
-- cicada runs thousands of such users at once, each in its own coroutine:
-- a call like self.client:get() waits for its response without blocking
-- the others. Each global assigned a cicada.user{...} is a user class; its
-- name (WebsiteUser, ApiUser) is how the CLI, web UI and reports call it.

-- A person browsing the site: logs in once, then mostly reads fast pages
-- and now and then a slow one.
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8080",     -- used unless -H/--host says otherwise
  weight = 3,                         -- 3 WebsiteUsers for every ApiUser
  wait_time = cicada.between(0.5, 2), -- think 0.5 to 2 s between tasks
}

-- on_start runs once when a user starts, before its first task (on_stop,
-- if defined, runs when it stops). self.id numbers the users 1, 2, ...
function WebsiteUser:on_start()
  -- json = a table is sent as a JSON body; data = a table as a form.
  -- The site answers with a session cookie.
  self.client:post("/login", { json = { user = "u" .. self.id } })
end

-- Tasks are picked at random by weight: this one 10 times as often as a
-- weight-1 task. `name` groups the request in the statistics.
WebsiteUser:task(10, function(self)
  self.client:get("/fast", { name = "Fast page" })
end)

WebsiteUser:task(2, function(self)
  self.client:get("/", { name = "Index" })
end)

-- catch_response = true lets the task decide whether the request counts as
-- a success or a failure, here by what the body says.
WebsiteUser:task(1, function(self)
  local r = self.client:get("/slow", { name = "Slow page", catch_response = true })
  if not r.text:find("done") then r:failure("no 'done' in body") end
end)

-- A program calling the site's API: no think time to speak of, and it
-- checks what it gets back.
ApiUser = cicada.user {
  host = "http://127.0.0.1:8080",
  weight = 1,
  wait_time = cicada.constant_pacing(1), -- start a task once a second
}

-- Every /item/<n> is a different URL; name = "/item/[id]" counts them all as
-- one row of the statistics instead of a thousand.
ApiUser:task(5, function(self)
  local id = math.random(1, 1000)
  local r = self.client:get("/item/" .. id, { name = "/item/[id]", catch_response = true })
  if r.status_code ~= 200 then
    r:failure("status " .. r.status_code)
  elseif r:json().id ~= id then
    r:failure("asked for item " .. id .. ", got another one")
  end
end)

-- /flaky answers 500 now and then (`cicada demo-server --fail-ratio`, 0.1
-- by default): those show up in the failures table. With catch_response the
-- task gives the verdict: here a failure with a message of its own, or an
-- explicit success once the body looks right.
ApiUser:task(2, function(self)
  local r = self.client:get("/flaky", { catch_response = true })
  if r.status_code == 500 then
    r:failure("the flaky page failed (500)")
  elseif not r.text:find("done") then
    r:failure("no 'done' in body")
  else
    r:success()
  end
end)

-- params become the query string: this asks for /slow?delay=0.1.
ApiUser:task(1, function(self)
  self.client:get("/slow", { name = "Slow page (0.1 s)", params = { delay = "0.1" }, timeout = 5 })
end)
