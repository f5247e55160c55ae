-- examples/locust/stop_on_threshold.lua: Locust's
-- examples/stop_on_threshold.py: stop the test when the fail ratio goes
-- over 20%.
--
--   ./cicada -f examples/locust/stop_on_threshold.lua --headless -u 5 -r 5 -t 1m -H http://127.0.0.1:8080
--
-- Locust runs a checker greenlet on the master that reads the total stats
-- once a second. A cicada scenario cannot read the merged statistics;
-- instead a request listener counts requests and failures itself, in its
-- own engine thread (each thread's VM has its own counters), and calls
-- cicada.quit() when that thread's fail ratio goes over the threshold:
-- cicada.quit() ends the whole test. /error is a 404 on the demo site, so
-- the ratio passes 0.2 after about 13 s.

MyUser = cicada.user {
  host = "http://www.google.com",
}

MyUser:task(function(self)
  for _ = 1, 10 do
    self.client:get("/")
    cicada.sleep(1)
  end
  for _ = 1, 5 do
    self.client:get("/error")
    cicada.sleep(1)
  end
end)

local requests, failures, quitting = 0, 0, false

cicada.events.request:add_listener(function(ev)
  requests = requests + 1
  if ev.exception then failures = failures + 1 end
  local fail_ratio = failures / requests
  if fail_ratio > 0.2 and not quitting then
    quitting = true
    print(("fail ratio was %.2f, quitting"):format(fail_ratio))
    cicada.quit()
  end
end)
