-- examples/locust/fast_http_locust.lua: Locust's examples/fast_http_locust.py.
--
--   ./cicada -f examples/locust/fast_http_locust.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Locust has two clients, HttpUser (requests) and the faster FastHttpUser
-- (geventhttpclient). cicada has one client, written in C, with the
-- requests-style options of HttpUser: every cicada.user is a "fast" user.
-- FastHttpUser's settings map to:
--   connection_timeout, network_timeout -> the timeout = seconds request option
--   insecure = True                     -> verify = false (per request or on
--                                          self.client), or --insecure
--   max_redirects                       -> fixed at 10; allow_redirects = false
--   max_retries                         -> a request that finds its kept-alive
--                                          connection closed is sent again once

-- User class that does requests to the locust web server running on localhost
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
}

WebsiteUser:task(function(self) -- index
  self.client:get("/")
end)

WebsiteUser:task(function(self) -- stats
  self.client:get("/stats/requests")
end)
