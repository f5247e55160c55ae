-- examples/locust/multiple_hosts.lua: Locust's examples/multiple_hosts.py:
-- one user talks to two hosts, each through its own client.
--
--   API_HOST=http://127.0.0.1:8081 ./cicada -f examples/locust/multiple_hosts.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Locust builds a second HttpSession in the user's __init__; cicada's
-- cicada.client(base_url) is that second client: it shares the user's
-- connections, cookies and statistics. cicada.user{} has no inheritance:
-- the abstract class below holds the shared on_start, and WebsiteUser takes
-- it over by name. Without API_HOST the second client uses the user's host.

MultipleHostsUser = cicada.user { abstract = true } -- never run itself

function MultipleHostsUser:on_start()
  self.api_client = cicada.client(os.getenv("API_HOST") or self.host)
end

UserTasks = cicada.taskset {}

UserTasks:task(function(self) -- index
  self.user.client:get("/")
end)

UserTasks:task(function(self) -- index_other_host
  self.user.api_client:get("/stats/requests")
end)

-- User class that does requests to the locust web server running on localhost
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
  on_start = MultipleHostsUser.on_start, -- "class WebsiteUser(MultipleHostsUser)"
}
WebsiteUser:task(UserTasks)
