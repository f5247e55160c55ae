-- examples/locust/custom_shape_stages.lua: Locust's
-- examples/custom_shape/stages.py: a different user count and spawn rate
-- at different stages of the test.
--
--   ./cicada -f examples/locust/custom_shape_stages.lua --headless -H http://127.0.0.1:8080
--
-- (no -u/-r: the shape decides; giving them is an error.) Locust's shape is
-- a class with tick(); cicada's is a function of the run time handed to
-- cicada.shape(). cicada.stages{} is exactly this example's tick(): each
-- stage lasts until `duration` seconds (counted from the start of the
-- test), and after the last one the test stops.

UserTasks = cicada.taskset {}
UserTasks:task(function(self) -- get_root
  self.client:get("/")
end)

WebsiteUser = cicada.user {
  wait_time = cicada.constant(0.5),
}
WebsiteUser:task(UserTasks)

-- A simple load test shape that has different user and spawn_rate at
-- different stages. Each stage: duration (when this many seconds pass the
-- test is advanced to the next stage), users (total user count),
-- spawn_rate (users to start/stop per second).
cicada.shape(cicada.stages {
  { duration = 60, users = 10, spawn_rate = 10 },
  { duration = 100, users = 50, spawn_rate = 10 },
  { duration = 180, users = 100, spawn_rate = 10 },
  { duration = 220, users = 30, spawn_rate = 10 },
  { duration = 230, users = 10, spawn_rate = 10 },
  { duration = 240, users = 1, spawn_rate = 1 },
})

-- The same written out, as Locust's tick() is:
--
-- local stages = { { duration = 60, users = 10, spawn_rate = 10 }, ... }
-- cicada.shape(function(run_time)
--   for _, stage in ipairs(stages) do
--     if run_time < stage.duration then return stage.users, stage.spawn_rate end
--   end
--   return nil
-- end)
