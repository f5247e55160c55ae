-- examples/locust/custom_shape_wait_user_count.lua: Locust's
-- examples/custom_shape/wait_user_count.py: a step shape that holds each
-- step for its dwell time only once the step's user count is reached.
--
--   ./cicada -f examples/locust/custom_shape_wait_user_count.lua --headless -H http://127.0.0.1:8080
--
-- What differs from Locust:
-- * A cicada shape function gets only the run time: there is no
--   get_current_user_count() or reset_time(). cicada starts users without
--   delay at the spawn rate the shape returns, so the time a step needs to
--   reach its count is known: |change| / spawn rate. The shape below keeps
--   its own clock per step and starts the dwell after that ramp time.
-- * Locust's example makes users slow to create (a sleep in __init__);
--   the closest thing here is a random sleep in on_start.

UserTasks = cicada.taskset {}
UserTasks:task(function(self) -- get_root
  self.client:get("/")
end)

WebsiteUser = cicada.user {
  wait_time = cicada.constant(0.5),
}

function WebsiteUser:on_start()
  -- arbitrarily slow and unpredictable user start-up
  cicada.sleep(math.random(0, 5))
end
WebsiteUser:task(UserTasks)

-- targets_with_times: the user count, and how long to hold it
local targets_with_times = { { users = 10, dwell = 10 }, { users = 20, dwell = 15 }, { users = 10, dwell = 10 } }
local SPAWN_RATE = 100 -- "spawn as fast as you can"

local step, step_started, previous = 1, nil, 0

cicada.shape(function(run_time)
  local target = targets_with_times[step]
  if target == nil then return nil end
  step_started = step_started or run_time
  local ramp = math.abs(target.users - previous) / SPAWN_RATE
  if run_time - step_started > ramp + target.dwell then
    previous, step, step_started = target.users, step + 1, run_time
    target = targets_with_times[step]
    if target == nil then return nil end
  end
  return target.users, SPAWN_RATE
end)
