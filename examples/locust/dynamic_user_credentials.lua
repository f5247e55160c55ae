-- examples/locust/dynamic_user_credentials.lua: Locust's
-- examples/dynamic_user_credentials.py: each user logs in with its own
-- credentials, taken from a list.
--
--   ./cicada -f examples/locust/dynamic_user_credentials.lua --headless -u 3 -r 3 -t 30s -H http://127.0.0.1:8080
--
-- Locust pops the list in its single process. cicada runs the scenario once
-- per engine thread, each with its own copy of this table, so popping would
-- hand the same credentials to users of different threads. self.user.id is
-- unique across threads (1, 2, 3, ... in spawn order): use it as the index,
-- and each entry goes to one user. (For a file of credentials, use
-- cicada.data.csv(...):next(), see examples/data.lua.)

local USER_CREDENTIALS = {
  { "user1", "password" },
  { "user2", "password" },
  { "user3", "password" },
}

UserBehaviour = cicada.taskset {}

function UserBehaviour:on_start()
  local cred = USER_CREDENTIALS[self.user.id]
  if cred then
    local user, passw = cred[1], cred[2]
    -- a table as data= is sent as a form, like requests' data={...}
    self.client:post("/login", { data = { username = user, password = passw } })
  end
end

UserBehaviour:task(function(self) -- some_task
  -- user should be logged in here (unless the USER_CREDENTIALS ran out)
  self.client:get("/protected/resource")
end)

User = cicada.user {
  wait_time = cicada.between(5, 60),
}
User:task(UserBehaviour)
