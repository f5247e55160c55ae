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

-- ---- the open model's rates over time (runner/rate.c) ----
--
--   cicada.arrival(function(run_time)
--     if run_time < 60 then return 100 end            -- iterations/s, split by class weight
--     if run_time < 120 then return { ApiUser = 300, WebUser = 20 } end  -- a rate per class
--     return nil                                       -- stop the test
--   end)
--
-- The main thread asks the function every 20 ms. Helpers, in the style of
-- cicada.stages and cicada.ramp:
--   cicada.arrival(cicada.rate_stages{ {duration = 30, rate = 50},
--                                      {duration = 90, rate = { ApiUser = 200 }} })
--     each stage holds its rate until its duration (counted from the start);
--   cicada.arrival(cicada.rate_ramp{ {to = 1000, over = 60}, {hold = 120}, {to = 0, over = 30} })
--     ramps linearly from 0 (or `from`) to a rate over a time, holds, ramps
--     down (k6's ramping-arrival-rate).
local arrival_fn

function cicada.arrival(fn)
  assert(type(fn) == "function", "cicada.arrival takes a function of the run time")
  arrival_fn = fn
end

function cicada._has_arrival()
  return arrival_fn ~= nil
end

-- Returns a total rate, a table of rates by class name, or nil to stop.
function cicada._arrival_tick(run_time)
  local rate = arrival_fn(run_time)
  if rate ~= nil and type(rate) ~= "number" and type(rate) ~= "table" then
    error("the cicada.arrival function returned a " .. type(rate) ..
          " (a rate per second, a table of rates by class name, or nil to stop)", 0)
  end
  return rate
end

local function is_rate(r)
  if type(r) == "number" then return true end
  if type(r) ~= "table" then return false end
  for k, v in pairs(r) do
    if type(k) ~= "string" or type(v) ~= "number" then return false end
  end
  return true
end

function cicada.rate_stages(stages)
  assert(type(stages) == "table" and #stages > 0, "cicada.rate_stages takes a list of stages")
  for i, s in ipairs(stages) do
    assert(type(s.duration) == "number" and is_rate(s.rate),
           "stage " .. i .. " of cicada.rate_stages needs duration (seconds from the start) " ..
           "and rate (per second, or a table of rates by class name)")
  end
  return function(run_time)
    for _, s in ipairs(stages) do
      if run_time < s.duration then return s.rate end
    end
    return nil
  end
end

function cicada.rate_ramp(phases)
  assert(type(phases) == "table" and #phases > 0, "cicada.rate_ramp takes a list of phases")
  for i, p in ipairs(phases) do
    assert((type(p.to) == "number" and type(p.over) == "number" and p.over > 0) or
           type(p.hold) == "number",
           "phase " .. i .. " of cicada.rate_ramp needs {to = RATE, over = SECONDS} or " ..
           "{hold = SECONDS}")
  end
  return function(run_time)
    local t0, rate = 0, phases.from or 0
    for _, p in ipairs(phases) do
      local len = p.over or p.hold
      if run_time < t0 + len then
        if p.hold then return rate end
        return rate + (p.to - rate) * (run_time - t0) / len
      end
      t0 = t0 + len
      if p.to then rate = p.to end
    end
    return nil
  end
end
