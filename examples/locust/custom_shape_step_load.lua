-- examples/locust/custom_shape_step_load.lua: Locust's
-- examples/custom_shape/step_load.py: add step_load users every step_time
-- seconds, until time_limit.
--
--   ./cicada -f examples/locust/custom_shape_step_load.lua --headless -H http://127.0.0.1:8080

UserTasks = cicada.taskset {}
UserTasks:task(function(self) -- get_root
  self.client:get("/")
end)

WebsiteUser = cicada.user {
  wait_time = cicada.constant(0.5),
}
WebsiteUser:task(UserTasks)

-- A step load shape. step_time: time between steps; step_load: user
-- increase at each step; spawn_rate: users to start/stop per second at
-- every step; time_limit: time limit in seconds.
local step_time, step_load, spawn_rate, time_limit = 30, 10, 10, 600

cicada.shape(function(run_time)
  if run_time > time_limit then return nil end
  local current_step = math.floor(run_time / step_time) + 1
  return current_step * step_load, spawn_rate
end)

-- The built-in helper does the same (and can cap the count with max_users):
-- cicada.shape(cicada.steps { step_users = 10, step_time = 30, spawn_rate = 10, time_limit = 600 })
