-- examples/locust/custom_wait_function.lua: Locust's
-- examples/custom_wait_function.py. A wait_time is any function of the
-- user (or task set) that returns seconds: here exponentially distributed
-- waits.
--
--   ./cicada -f examples/locust/custom_wait_function.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080

-- Python's random.expovariate(lambd)
local function expovariate(lambd)
  return -math.log(1 - math.random()) / lambd
end

local function index(l)
  l.client:get("/")
end

local function stats(l)
  l.client:get("/stats/requests")
end

UserTasks = cicada.taskset {}
UserTasks:task(index)
UserTasks:task(stats)
UserTasks:task(function(self) -- page404
  self.client:get("/does_not_exist")
end)

-- User class that does requests to the locust web server running on localhost
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  -- Most task inter-arrival times approximate to exponential distributions.
  -- We model this wait time as exponentially distributed with a mean of 1 s.
  wait_time = function(self) return expovariate(1) end,
}
WebsiteUser:task(UserTasks)

-- Returns an exponentially distributed time strictly between two bounds.
local function strictExp(min_wait, max_wait, mu)
  mu = mu or 1
  while true do
    local x = expovariate(mu)
    local increment = (max_wait - min_wait) / (mu * 6.0)
    local result = min_wait + (x * increment)
    if result < max_wait then return result end
  end
end

-- User class that makes exponential requests but strictly between two bounds.
StrictWebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = function(self) return strictExp(3, 7) end,
}
StrictWebsiteUser:task(UserTasks)
