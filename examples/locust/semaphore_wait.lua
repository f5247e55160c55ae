-- examples/locust/semaphore_wait.lua: Locust's examples/semaphore_wait.py:
-- no user starts its tasks before every user has been spawned.
--
--   ./cicada -f examples/locust/semaphore_wait.lua --headless -u 10 -r 5 -t 30s -H http://127.0.0.1:8080
--
-- Locust blocks on a gevent Semaphore released by the spawning_complete
-- event. cicada has no semaphore for users: the spawning_complete listener
-- sets a flag, and on_start polls it with cicada.sleep (which parks only
-- this user). Each engine thread has its own VM, so each has its own flag;
-- spawning_complete fires in every VM when the whole swarm is spawned.

local all_users_spawned = false

cicada.events.test_start:add_listener(function()
  all_users_spawned = false -- a new test (web UI) waits again
end)

cicada.events.spawning_complete:add_listener(function(user_count)
  all_users_spawned = true
end)

UserTasks = cicada.taskset {}

function UserTasks:on_start()
  while not all_users_spawned do cicada.sleep(0.1) end -- all_users_spawned.wait()
  cicada.sleep(WebsiteUser.wait_time(self)) -- self.wait()
end

UserTasks:task(function(self) -- index
  self.client:get("/")
end)

WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
}
WebsiteUser:task(UserTasks)
