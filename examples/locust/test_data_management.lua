-- examples/locust/test_data_management.lua: Locust's
-- examples/test_data_management.py: the places where a scenario can run
-- code outside of its tasks, which is where test data is fetched or made.
--
--   ./cicada -f examples/locust/test_data_management.lua --headless -u 2 -r 2 -t 5s -H http://127.0.0.1:8080
--
-- 1. Scenario load time   2. init          3. test_start   4. user start
-- 5. inside a task        6. test_stopping (none in cicada)
-- 7. user stop            8. test_stop     9. quitting     10. quit (none)
--
-- What differs from Locust:
-- * The file runs once in the main thread (to find the classes) and once
--   per engine thread, each in its own Lua VM: the messages below print
--   more than once. Data shared by every user of every thread comes from
--   cicada.data.csv/json (loaded once per process, see examples/data.lua).
-- * HTTP requests can only be made by a running user (in on_start, a task
--   or on_stop): at load time and in event listeners (which must not
--   block) read files instead. Locust's module-level requests.post() is
--   replaced by a file read here.
-- * postman-echo.com's /post is the demo site's /echo here (it answers
--   the request back as JSON, the body in "body").
-- * Locust's test_stopping and quit(exit_code) events have no equivalent.

local function timestring()
  return os.date("%M:%S") .. string.format(".%d", math.floor(cicada.now() * 10) % 10)
end

print("1. Parsing locustfile, happens before anything else")

-- Global test data: from a file, read once per process and shared.
local global_test_data = cicada.data.csv("../data/users.csv"):get(1).username

local test_run_specific_data = nil

cicada.events.init:add_listener(function()
  print("2. Initializing locust, happens after parsing the locustfile but before test start")
end)

cicada.events.quitting:add_listener(function()
  print("9. locust is shutting down")
end)

cicada.events.test_start:add_listener(function()
  -- happens only once in headless runs, but can happen multiple times in
  -- web UI runs. No requests here (a listener must not block).
  print("3. Starting test run")
  test_run_specific_data = "test-run-specific_" .. timestring()
end)

cicada.events.test_stop:add_listener(function()
  print("8. test run stopped")
end)

MyUser = cicada.user {
  host = "https://postman-echo.com",
  wait_time = cicada.constant(180), -- be nice to postman-echo
}

function MyUser:on_start()
  print("4. A user was started")
  -- This is a good place to fetch user-specific test data. It is executed
  -- once per user.
  self.user_specific_testdata = self.client:post("/echo", {
    data = "user-specific_" .. timestring(),
  }):json().body
end

MyUser:task(function(self)
  self.client:get("/echo?" .. global_test_data, { name = "/echo?[global]" })
  self.client:get("/echo?" .. tostring(test_run_specific_data), { name = "/echo?[test run]" })
  self.client:get("/echo?" .. self.user_specific_testdata, { name = "/echo?[user]" })

  print("5. Getting task-run-specific testdata")
  -- If every iteration is meant to use new test data this is the most
  -- common way to do it
  local task_run_specific_testdata = self.client:post("/echo", {
    data = "task_run_specific_testdata_" .. timestring(),
  }):json().body
  self.client:get("/echo?" .. task_run_specific_testdata, { name = "/echo?[task]" })
end)

function MyUser:on_stop()
  -- this is a good place to clean up/release any user-specific test data
  print("7. a user was stopped")
end
