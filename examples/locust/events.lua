-- examples/locust/events.lua: Locust's examples/events.py. Event hooks
-- track the sum of the response lengths of all requests.
--
--   ./cicada -f examples/locust/events.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- What differs from Locust:
-- * Every engine thread runs this file in its own Lua VM, so `stats` below
--   exists once per thread: a request listener counts the requests of its
--   own thread, and test_stop prints one line per thread.
-- * Locust's init listener adds a route (/content-length) to the web UI;
--   cicada's web UI cannot be extended from a scenario (yet).
-- * report_to_master / worker_report (sending extra data from workers to
--   the master) have no cicada equivalent yet. Use cicada.report{...} to
--   put numbers into the statistics, which the master does merge.

MyTaskSet = cicada.taskset {}

MyTaskSet:task(2, function(l) -- index
  l.client:get("/")
end)

MyTaskSet:task(1, function(l) -- stats
  l.client:get("/stats/requests")
end)

WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
}
WebsiteUser:task(MyTaskSet)

local stats = { ["content-length"] = 0 }

-- init fires once per VM, after the file ran and the classes were found.
cicada.events.init:add_listener(function()
  stats["content-length"] = 0
end)

-- Event handler that gets triggered on every request (of this thread's
-- users). ev.request_type, ev.name, ev.response_time (ms),
-- ev.response_length, ev.exception (nil on success).
cicada.events.request:add_listener(function(ev)
  stats["content-length"] = stats["content-length"] + ev.response_length
end)

cicada.events.test_stop:add_listener(function()
  print(("content-length received by this thread: %d"):format(stats["content-length"]))
end)
