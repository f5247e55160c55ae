-- examples/locust/custom_shape_double_wave.lua: Locust's
-- examples/custom_shape/double_wave.py: a shape imitating meal times, with a
-- first peak of users at time_limit/3 and a second at 2*time_limit/3.
--
--   ./cicada -f examples/locust/custom_shape_double_wave.lua --headless -H http://127.0.0.1:8080

UserTasks = cicada.taskset {}
UserTasks:task(function(self) -- get_root
  self.client:get("/")
end)

WebsiteUser = cicada.user {
  wait_time = cicada.constant(0.5),
}
WebsiteUser:task(UserTasks)

-- Settings: minimum users, users in the first peak, users in the second
-- peak, total length of the test.
local min_users, peak_one_users, peak_two_users, time_limit = 20, 60, 40, 600

local function round(x) return math.floor(x + 0.5) end

cicada.shape(function(seconds)
  local run_time = round(seconds)
  if run_time < time_limit then
    local user_count = (peak_one_users - min_users)
        * math.exp(-(((run_time / (time_limit / 10 * 2 / 3)) - 5) ^ 2))
      + (peak_two_users - min_users)
        * math.exp(-(((run_time / (time_limit / 10 * 2 / 3)) - 10) ^ 2))
      + min_users
    return round(user_count), round(user_count)
  end
  return nil
end)
