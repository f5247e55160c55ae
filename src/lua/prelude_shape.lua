-- prelude_shape: custom load shapes (Locust's LoadTestShape).
--
--   cicada.shape(function(run_time)       -- seconds since the test started
--     if run_time < 60 then return 10, 10 end   -- users, spawn rate
--     if run_time < 120 then return 50, 10, { "ApiUser" } end  -- only these classes
--     return nil                                -- stop the test
--   end)
--
-- The main thread calls the shape every second. Helpers build common shapes:
--   cicada.shape(cicada.stages{ {duration = 30, users = 10, spawn_rate = 10},
--                               {duration = 60, users = 50, spawn_rate = 5}, ... })
--     each stage holds until its duration (counted from the start) is reached;
--   cicada.shape(cicada.steps{ step_users = 10, step_time = 30, spawn_rate = 10,
--                              max_users = 100, time_limit = 600 })
--     adds step_users every step_time seconds up to max_users;
--   cicada.shape(cicada.ramp{ {to = 100, over = 60}, {hold = 120}, {to = 0, over = 30} })
--     ramps linearly to a user count over a time, holds, ramps down.

local cicada = cicada
local shape_fn

function cicada.shape(fn)
  assert(type(fn) == "function", "cicada.shape takes a function of the run time")
  shape_fn = fn
end

function cicada._has_shape()
  return shape_fn ~= nil
end

-- Returns users, spawn_rate, classes-table-or-nil; or nil to stop.
function cicada._shape_tick(run_time)
  local users, rate, classes = shape_fn(run_time)
  if users == nil then return nil end
  return users, rate or users, classes
end

function cicada.stages(stages)
  assert(type(stages) == "table" and #stages > 0, "cicada.stages takes a list of stages")
  local ends = {}
  local t = 0
  for i, s in ipairs(stages) do
    assert(type(s.duration) == "number" and type(s.users) == "number",
           "each stage needs duration and users")
    -- Locust's stages example counts durations from the start of the test
    t = s.duration
    ends[i] = t
  end
  return function(run_time)
    for i, s in ipairs(stages) do
      if run_time < ends[i] then return s.users, s.spawn_rate or s.users, s.user_classes end
    end
    return nil
  end
end

function cicada.steps(o)
  assert(type(o) == "table" and o.step_users and o.step_time, "cicada.steps needs step_users and step_time")
  return function(run_time)
    if o.time_limit and run_time > o.time_limit then return nil end
    local users = (math.floor(run_time / o.step_time) + 1) * o.step_users
    if o.max_users and users > o.max_users then users = o.max_users end
    return users, o.spawn_rate or o.step_users
  end
end

function cicada.ramp(phases)
  assert(type(phases) == "table" and #phases > 0, "cicada.ramp takes a list of phases")
  return function(run_time)
    local t0, users = 0, 0
    for _, p in ipairs(phases) do
      local len = p.over or p.hold or 0
      if run_time < t0 + len then
        if p.hold then return users, math.max(users, 1) end
        local f = (run_time - t0) / len
        local n = math.floor(users + (p.to - users) * f + 0.5)
        return n, math.max(math.abs(p.to - users) / len, 1)
      end
      t0 = t0 + len
      if p.to then users = p.to end
    end
    return nil
  end
end
