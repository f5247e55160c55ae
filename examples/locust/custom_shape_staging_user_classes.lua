-- examples/locust/custom_shape_staging_user_classes.lua: Locust's
-- examples/custom_shape/staging_user_classes.py: stages that also choose
-- which user classes run.
--
--   ./cicada -f examples/locust/custom_shape_staging_user_classes.lua --headless -H http://127.0.0.1:8080
--
-- Locust's tick() returns class objects; a cicada shape names the classes
-- (the names of their globals). A stage without user_classes runs all.

UserTasks = cicada.taskset {}
UserTasks:task(function(self) -- get_root
  self.client:get("/")
end)

WebsiteUserA = cicada.user { wait_time = cicada.constant(0.5) }
WebsiteUserA:task(UserTasks)

WebsiteUserB = cicada.user { wait_time = cicada.constant(0.5) }
WebsiteUserB:task(UserTasks)

cicada.shape(cicada.stages {
  { duration = 60, users = 10, spawn_rate = 10, user_classes = { "WebsiteUserA" } },
  { duration = 100, users = 50, spawn_rate = 10, user_classes = { "WebsiteUserB" } },
  { duration = 180, users = 100, spawn_rate = 10, user_classes = { "WebsiteUserA" } },
  { duration = 220, users = 30, spawn_rate = 10 },
  { duration = 230, users = 10, spawn_rate = 10 },
  { duration = 240, users = 1, spawn_rate = 1 },
})
