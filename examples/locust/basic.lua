-- examples/locust/basic.lua: Locust's examples/basic.py in cicada.
--
--   ./cicada -f examples/locust/basic.lua --headless -u 5 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- A user class whose only task is a task set; the task set mixes plain
-- functions (Locust's `tasks = [index, stats]`) with a task written in place
-- (Locust's @task method). /stats/requests exists on a Locust (or cicada)
-- web UI; /does_not_exist is a 404 on purpose, so this run has failures.

local function index(l)
  l.client:get("/")
end

local function stats(l)
  l.client:get("/stats/requests")
end

UserTasks = cicada.taskset {}

-- one can specify tasks like this (tasks = [index, stats])
UserTasks:task(index)
UserTasks:task(stats)

-- but it might be convenient to write them in place (@task)
UserTasks:task(function(self)
  self.client:get("/does_not_exist")
end)

-- User class that does requests to the locust web server running on localhost
WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
}
WebsiteUser:task(UserTasks) -- tasks = [UserTasks]
