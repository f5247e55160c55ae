-- examples/locust/custom_messages.lua: Locust's examples/custom_messages.py:
-- the master hands each worker its share of test users with a custom
-- message, and each worker thanks it with another.
--
--   ./cicada -f examples/locust/custom_messages.lua --master --headless --expect-workers 2 \
--       -u 10 -r 10 -t 30s -H http://127.0.0.1:8080
--   ./cicada -f examples/locust/custom_messages.lua --worker     # twice, or Locust workers
--
-- Without --master/--worker it runs alone: send_message then calls this
-- process's own handler, as Locust's local runner does.
--
-- What differs from Locust:
-- * cicada.role ("master", "worker" or "local") replaces the isinstance()
--   checks on environment.runner; handlers take (data, msg).
-- * A worker has one Lua VM per engine thread, and a message from the
--   master runs its handler in every one of them: each engine keeps its
--   own slice of the list (cicada.thread_index of cicada.thread_count), so
--   no two users of the worker get the same name. Only the first engine
--   answers, so the master gets one "thanks" per worker.
-- * The master's test_start listeners run in the master's own VM, before
--   the workers get their first spawn message; the user count comes from
--   TEST_USERS (no environment.runner.target_user_count).

local usernames = {}

local function setup_test_users(data, msg)
  -- fired in each engine of a worker that receives a "test_users" message
  for i = cicada.thread_index, #data, cicada.thread_count do
    usernames[#usernames + 1] = data[i].name
  end
  if cicada.thread_index == 1 then
    cicada.send_message("acknowledge_users", ("Thanks for the %d users!"):format(#data))
  end
end

local function on_acknowledge(data, msg)
  -- fired on the master when it receives an "acknowledge_users" message
  print(data)
end

if cicada.role ~= "master" then cicada.register_message("test_users", setup_test_users) end
if cicada.role ~= "worker" then cicada.register_message("acknowledge_users", on_acknowledge) end

cicada.on("test_start", function()
  if cicada.role == "worker" then return end
  local users = {}
  for i = 0, (tonumber(os.getenv("TEST_USERS")) or 100) - 1 do
    users[#users + 1] = { name = "User" .. i }
  end
  if cicada.role == "local" then -- to our own handler, in this engine
    cicada.send_message("test_users", users)
    return
  end
  local workers = cicada.workers()
  local chunk = math.floor(#users / #workers)
  for i, worker in ipairs(workers) do
    local first = (i - 1) * chunk + 1
    local last = i < #workers and first + chunk - 1 or #users
    local data = {}
    for k = first, last do data[#data + 1] = users[k] end
    cicada.send_message("test_users", data, worker)
  end
end)

WebsiteUser = cicada.user {
  host = "http://127.0.0.1:8089",
  wait_time = cicada.between(2, 5),
}

function WebsiteUser:on_start()
  self.username = table.remove(usernames) or ("anonymous" .. self.id)
end

WebsiteUser:task(function(self)
  print(self.username)
  self.client:get("/")
end)
