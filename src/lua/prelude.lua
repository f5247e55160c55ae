-- prelude: the Lua half of cicada's scenario API, compiled into the binary.
--
-- The C half (src/lua/api.c) gives primitives: cicada.now, cicada.report,
-- cicada._sleep (parks the coroutine), the HTTP client methods, and the
-- counters for exceptions. This file builds what users write on top of
-- them: user classes (cicada.user), tasks with weights, wait_time functions
-- and the loop each virtual user runs. It is plain Lua on purpose: change it
-- without touching C.
--
-- A user class is a table marked _cicada_class; the engine finds classes by
-- scanning the globals after the scenario ran (the global's name is the
-- class name, as Locust names classes), sorted by name so that every engine
-- thread and the main thread agree on the order.

local cicada = cicada
local STOP = cicada._STOP
local _sleep, _flush, _exception, _task = cicada._sleep, cicada._flush, cicada._exception,
                                         cicada._task
local random, floor, max = math.random, math.floor, math.max
local traceback = debug.traceback
local SLEEP, raw_yield = cicada._SLEEP, coroutine.yield

-- cicada.sleep's park of the running user for s seconds; returns STOP
-- when it must stop. A real sleep yields (SLEEP, s) to the engine
-- (api_yielded in lua/api.c) instead of calling C: a C call needs 20 free
-- stack slots above it, which at the depth of a task or on_start doubles
-- the coroutine's stack (376 to 752 bytes, for good) -- the bulk of an idle
-- user's memory. Only LuaJIT's own pcall and yield run here, which need
-- none. A zero wait, a non-number, and a call outside a user's coroutine
-- (where the yield fails) go to cicada._sleep. The wait between tasks
-- calls _sleep directly: it is shallow, and measured, a yield there costs
-- more (JIT traces through it grow the stack anyway).
local function sleep(s)
  if type(s) ~= "number" or not (s > 0) then return _sleep(s) end
  local ok, r = pcall(raw_yield, SLEEP, s)
  if not ok then return _sleep(s) end
  return r
end

-- ---- wait_time functions (Locust's semantics) ----

function cicada.between(min_wait, max_wait)
  assert(type(min_wait) == "number" and type(max_wait) == "number",
         "cicada.between(min, max) takes two numbers")
  return function() return min_wait + random() * (max_wait - min_wait) end
end

function cicada.constant(wait)
  assert(type(wait) == "number", "cicada.constant(seconds) takes a number")
  return function() return wait end
end

-- Wait so that task starts are `wait` seconds apart (0 if a task overran).
function cicada.constant_pacing(wait)
  assert(type(wait) == "number", "cicada.constant_pacing(seconds) takes a number")
  return function(self)
    local now = cicada.now()
    local last_run, last_wait = self._cp_last_run, self._cp_last_wait or 0
    local w = wait
    if last_run then w = max(0, wait - (now - last_run - last_wait)) end
    self._cp_last_run, self._cp_last_wait = now, w
    return w
  end
end

function cicada.constant_throughput(task_runs_per_second)
  assert(type(task_runs_per_second) == "number" and task_runs_per_second > 0,
         "cicada.constant_throughput(n) takes a positive number")
  return cicada.constant_pacing(1 / task_runs_per_second)
end

-- Sleep inside a task. Raises STOP when the run is stopping.
function cicada.sleep(seconds)
  if sleep(seconds) == STOP then error(STOP, 0) end
end

-- ---- user classes and task sets ----

local Class = {}   -- methods of user classes and task sets (task, ...)
Class.__index = Class

local function check_wait(def, level)
  if def.wait_time ~= nil and type(def.wait_time) ~= "function" then
    error("wait_time must be a function such as cicada.between(1, 2)", level + 1)
  end
end

-- cicada.user { host = , weight = , wait_time = , fixed_count = , abstract = , tags = }
function cicada.user(def)
  def = def or {}
  assert(type(def) == "table", "cicada.user{...} takes a table")
  local cls = { _cicada_class = true, _tasks = {}, weight = 1, fixed_count = 0 }
  for k, v in pairs(def) do cls[k] = v end
  check_wait(cls, 2)
  if type(cls.weight) ~= "number" or cls.weight < 0 then
    error("weight must be a non-negative number", 2)
  end
  if type(cls.fixed_count) ~= "number" or cls.fixed_count < 0 then
    error("fixed_count must be a non-negative number", 2)
  end
  local mb = cls.max_body_size
  if mb ~= nil and (type(mb) ~= "number" or mb < 1 or mb > 0x7fffff00 or mb % 1 ~= 0) then
    error("max_body_size must be a whole number of bytes from 1 to 2147483392 (2 GiB), got "
          .. tostring(mb), 2)
  end
  cls._instance = { __index = cls }
  return setmetatable(cls, Class)
end

-- cicada.taskset { wait_time = , tags = , name = }: a group of tasks that a
-- user runs until a task calls self:interrupt(). Add it to a user class (or
-- another task set) like a task: User:task(3, MyTaskSet).
function cicada.taskset(def)
  def = def or {}
  local ts = { _cicada_taskset = true, _tasks = {} }
  for k, v in pairs(def) do ts[k] = v end
  check_wait(ts, 2)
  ts._instance = { __index = ts }
  return setmetatable(ts, Class)
end

-- cicada.sequential_taskset{...}: its tasks run in the order they were
-- added, over and over, until interrupted.
function cicada.sequential_taskset(def)
  local ts = cicada.taskset(def)
  ts._sequential = true
  return ts
end

local function is_set(x)
  return type(x) == "table" and rawget(x, "_cicada_taskset") == true
end

-- The name of function fn as the scenario wrote it: a field of cls (or of
-- its parents), a local of Class:task's caller, or a global; nil if none.
local function fn_name(cls, fn)
  local c = cls
  for _ = 1, 16 do -- bounded: a parent chain may loop
    if type(c) ~= "table" then break end
    for k, v in pairs(c) do
      if v == fn and type(k) == "string" then return k end
    end
    local mt = getmetatable(c)
    c = mt and rawget(mt, "__index")
  end
  for i = 1, 250 do
    local k, v = debug.getlocal(3, i)
    if k == nil then break end
    if v == fn and k:sub(1, 1) ~= "(" then return k end
  end
  for k, v in pairs(getfenv(3)) do
    if v == fn and type(k) == "string" then return k end
  end
  return nil
end

-- Class:task(weight, fn | taskset), Class:task(fn | taskset), or
-- Class:task{ fn | taskset, weight = 2, name = "checkout", tags = {"shop"} }
function Class:task(a, b)
  local t
  local function runnable(x) return type(x) == "function" or is_set(x) end
  if runnable(a) then
    t = { fn = a, weight = 1 }
  elseif type(a) == "number" and runnable(b) then
    t = { fn = b, weight = a }
  elseif type(a) == "table" and not is_set(a) then
    t = { fn = a.fn or a[1], weight = a.weight or 1, name = a.name, tags = a.tags }
  end
  if t == nil or not runnable(t.fn) then
    error("task takes (weight, function or task set) or (function or task set)", 2)
  end
  if type(t.weight) ~= "number" or t.weight < 0 or t.weight ~= floor(t.weight) then
    error("a task's weight must be a non-negative integer", 2)
  end
  if is_set(t.fn) then
    t.set = t.fn
    t.name = t.name or rawget(t.set, "name")
    t.tags = t.tags or rawget(t.set, "tags")
  elseif not t.name then
    -- the function's name where Lua knows it: a field of the class
    -- (function User:browse), a local of the caller (local function
    -- browse) or a global; else where it is defined (file:line)
    t.name = fn_name(self, t.fn)
    if not t.name then
      local info = debug.getinfo(t.fn, "S")
      t.name = ("%s:%d"):format(info.short_src, info.linedefined)
    end
  end
  local tasks = rawget(self, "_tasks")
  tasks[#tasks + 1] = t
  return t.fn
end

-- Locust's @tag as a function: cicada.tag("a", "b", fn) returns a task
-- table usable with Class:task.
function cicada.tag(...)
  local n = select("#", ...)
  local fn = select(n, ...)
  local tags = { ... }
  tags[n] = nil
  return { fn = fn, tags = tags }
end

-- ---- discovery (called by C after the scenario ran) ----

local classes = {}
local iterations = 0 -- -i/--iterations: tasks each user runs before it stops; 0: no limit

local function has_any(list, set)
  for _, x in ipairs(list or {}) do if set[x] then return true end end
  return false
end

-- Filter tasks by tags, recursively into task sets. A task is kept with
-- --tags if it or an enclosing task set carries one of them; --exclude-tags
-- drops it likewise. Task sets with nothing left are dropped. Each task set
-- gets its own _run_tasks and cumulative weights.
local function prepare(owner, want, avoid, inherited, seen)
  local out = {}
  for _, t in ipairs(rawget(owner, "_tasks")) do
    local tagged = inherited or has_any(t.tags, want)
    local excluded = has_any(t.tags, avoid)
    if t.weight > 0 and not excluded then
      if t.set then
        if not seen[t.set] then
          seen[t.set] = true
          prepare(t.set, want, avoid, tagged or (next(want) == nil), seen)
          seen[t.set] = nil
        end
        if #t.set._run_tasks > 0 then out[#out + 1] = t end
      elseif next(want) == nil or tagged then
        out[#out + 1] = t
      end
    end
  end
  local cum, total = {}, 0
  for j, t in ipairs(out) do total = total + t.weight; cum[j] = total end
  owner._run_tasks, owner._cum, owner._total = out, cum, total
end

local function set_of(list)
  local s = {}
  for _, x in ipairs(list or {}) do s[x] = true end
  return s
end

-- Returns the sorted class names; raises a clear error for a class with no
-- tasks. conf: { host = -H or nil, tags = {...}, exclude_tags = {...},
-- iterations = -i }
function cicada._discover(conf)
  iterations = conf.iterations or 0
  local names = {}
  for name, v in pairs(_G) do
    if type(v) == "table" and rawget(v, "_cicada_class") and not rawget(v, "abstract") then
      names[#names + 1] = name
    end
    if is_set(v) and not rawget(v, "name") then v.name = name end
  end
  table.sort(names)
  local want, avoid = set_of(conf.tags), set_of(conf.exclude_tags)
  for i, name in ipairs(names) do
    local cls = _G[name]
    cls._name = name
    if conf.host and conf.host ~= "" then cls.host = conf.host end
    if #cls._tasks == 0 then
      error(("user class '%s' has no tasks: add one with %s:task(function(self) ... end)")
            :format(name, name), 0)
    end
    prepare(cls, want, avoid, has_any(cls.tags, want), {})
    classes[i] = cls
  end
  for _, t in ipairs(classes) do
    for _, task in ipairs(t._run_tasks) do
      if task.set and not task.name then task.name = "TaskSet" end
    end
  end
  if cicada.events then cicada.events.init:fire() end
  return names
end

-- Class facts for the main thread: weight, fixed_count, host, task count.
function cicada._class_info(i)
  local c = classes[i]
  return c._name, c.weight, c.fixed_count or 0, c.host or "", #c._run_tasks
end

-- The tasks of class i that run: { {name=, weight=}, ... }
function cicada._task_info(i)
  local out = {}
  for j, t in ipairs(classes[i]._run_tasks) do out[j] = { name = t.name, weight = t.weight } end
  return out
end

-- A new host for every class (the web UI's host field); users spawned from
-- now on use it.
function cicada._set_host(host)
  for _, c in ipairs(classes) do c.host = host end
end

-- ---- running users and task sets ----

local client_mt = { __index = cicada._client_methods }

-- Another HTTP client for the running user, on another base URL (Locust's
-- extra HttpSession): self.api = cicada.client("http://127.0.0.1:9000").
-- It shares the user's connections, cookies and statistics.
function cicada.client(base_url, headers)
  return setmetatable({ base_url = base_url, headers = headers }, client_mt)
end

-- The metatable of a class's users' clients: base_url comes from one table
-- per class and host (then the methods), so an idle user's client is an
-- empty table (64 bytes, not 112). A class's max_body_size stays a field of
-- each client (the C side reads it raw), set only where the class has one.
-- A user may still set its own client.base_url or headers. Made again when
-- the host changed (the web UI's host field): users spawned before keep the
-- host they had.
local function client_class_mt(cls)
  local mt, host = rawget(cls, "_client_mt"), cls.host
  if mt == nil or mt.__index.base_url ~= host then
    mt = { __index = setmetatable({ base_url = host }, client_mt) }
    rawset(cls, "_client_mt", mt)
  end
  return mt
end

local INTERRUPT = {}   -- raised by interrupt(); caught by the task set loop
local NOW = {}         -- a task set ended by interrupt(true): pick the next task at once
local STOP_USER = {}   -- raised by cicada.stop_user(): the user ends (Locust's StopUser)
local RESCHEDULE = {}  -- raised by cicada.reschedule(): the task ends (RescheduleTask)
local RESCHEDULE_NOW = {} -- ... and the next is picked without a wait (RescheduleTaskImmediately)

-- cicada.stop_user(): end this user as Locust's `raise StopUser()` does:
-- the task (and every task set it is in, their on_stop first) ends, the
-- user's on_stop runs, and the user is gone (the user count drops; it is
-- not replaced). The other users go on.
function cicada.stop_user() error(STOP_USER, 0) end

-- cicada.reschedule(): end the task now, from any depth of calls, as
-- Locust's `raise RescheduleTask()`: the user waits its wait_time, then
-- picks its next task. cicada.reschedule{ wait = false } picks the next
-- task at once (RescheduleTaskImmediately). Not an error: nothing is counted.
function cicada.reschedule(opts)
  if type(opts) == "table" and opts.wait == false then error(RESCHEDULE_NOW, 0) end
  error(RESCHEDULE, 0)
end

-- What Lua itself prints for an error value: strings as they are; nil,
-- numbers and booleans through tostring ("nil", "42"); a table or userdata
-- through its __tostring, else "(error object is a table value)" -- never
-- its address, which would make every occurrence a new exception.
local function describe(err)
  local t = type(err)
  if t == "string" then return err end
  if t == "nil" or t == "number" or t == "boolean" then return tostring(err) end
  local mt = debug.getmetatable(err)
  if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
    local ok, s = pcall(tostring, err)
    if ok and type(s) == "string" then return s end
  end
  return ("(error object is a %s value)"):format(t)
end

-- The message handler of protected(): it must never fail itself (a failing
-- handler turns into "error in error handling" and used to end the user).
local function on_error(err)
  -- rawget: a raised table's own __index must not run (and fail) here
  if err == STOP or err == STOP_USER or err == RESCHEDULE or err == RESCHEDULE_NOW
     or (type(err) == "table" and rawget(err, "interrupt") == INTERRUPT) then
    return err
  end
  local msg = describe(err)
  -- the user's frames only: cut where the prelude's own frames begin
  local tb = traceback(msg, 2)
  local cut = tb:find("\n%s*%[C%]: in function 'xpcall'")
  if cut then tb = tb:sub(1, cut - 1) end
  return { msg = msg, tb = tb }
end

-- Run fn(self) catching errors. Returns STOP, STOP_USER, NOW (a
-- cicada.reschedule{ wait = false }), an interrupt (a table with
-- .reschedule), or nil when fn ended (or failed: the error is counted; or
-- called cicada.reschedule()).
local function protected(fn, self)
  local ok, err = xpcall(fn, on_error, self)
  if ok or err == RESCHEDULE then return nil end
  if err == STOP or err == STOP_USER then return err end
  if err == RESCHEDULE_NOW then return NOW end
  if type(err) == "table" and rawget(err, "interrupt") == INTERRUPT then return err end
  if type(err) ~= "table" or rawget(err, "msg") == nil then
    -- the handler itself could not run (LuaJIT: "error in error handling",
    -- e.g. at a stack overflow): record what we got
    local msg = describe(err)
    _exception(msg, msg)
    return nil
  end
  _exception(err.msg, err.tb)
  return nil
end

local function pick(owner, state)
  local tasks = owner._run_tasks
  if owner._sequential then
    state.i = (state.i or 0) % #tasks + 1
    return tasks[state.i]
  end
  local cum, total = owner._cum, owner._total
  local r = random() * total
  for i = 1, #cum do
    if r < cum[i] then return tasks[i] end
  end
  return tasks[#cum]
end

local run_set

-- Run one task of owner for self; returns STOP, NOW, an interrupt raised by
-- the task itself, or nil.
-- the task each user last told C it runs (C keeps it per user, for the
-- warning about a thread stuck in a task): a C call only when it changes
local told = setmetatable({}, { __mode = "k" })
local done = setmetatable({}, { __mode = "k" }) -- user -> tasks run, for -i
local function run_task(t, self, user)
  if t.set then return run_set(t.set, self, user) end
  if told[user] ~= t then
    told[user] = t
    _task(t.name)
  end
  local res = protected(t.fn, self)
  if iterations > 0 and res ~= STOP then
    -- -i: a task (at any depth of task sets) is one iteration; the last one stops the user
    local n = (done[user] or 0) + 1
    done[user] = n
    if n >= iterations then return STOP end
  end
  return res
end

-- The wait after a task: the owner's wait_time, else the user's. Returns
-- true when the user must stop.
local function wait(owner, self, user)
  local wt = rawget(owner, "wait_time") or user.wait_time
  local w = wt and wt(self) or 0
  return _sleep(w, true) == STOP
end

-- No wait before the next task (a task set ended by interrupt(true)): still
-- give the other users and the engine's commands (stop, -t) a turn when
-- nothing blocked since the last one, or a set of tasks that never block
-- would spin forever. Returns true when the user must stop.
local function no_wait()
  return _sleep(0, true) == STOP
end

-- Run task set class ts inside parent until one of its own tasks calls
-- self:interrupt() (Locust's TaskSet.run). Returns STOP, STOP_USER, NOW (interrupted
-- with reschedule: the parent picks its next task at once) or nil
-- (interrupt(false): the parent waits first). An interrupt in a nested set
-- ends that set only: here it is the NOW or nil its run_set returned, and
-- this set carries on.
function run_set(ts, parent, user)
  local self = setmetatable({ user = user, parent = parent, client = user.client }, ts._instance)
  local state = {}
  local res
  if ts.on_start then
    res = protected(ts.on_start, self)
    if res == STOP or res == STOP_USER then return res end
    if res == NOW then res = nil end
    -- interrupted in on_start: leave without on_stop, as Locust does
    if res ~= nil then return res.reschedule and NOW or nil end
  end
  while true do
    local t = pick(ts, state)
    res = run_task(t, self, user)
    _flush()
    if res == NOW then
      if no_wait() then res = STOP end
    elseif res == nil then
      if wait(ts, self, user) then res = STOP end
    end
    if res ~= nil and res ~= NOW then break end -- STOP, or this set's own interrupt
  end
  -- on_stop runs when the set is left: by interrupt, or when the user stops
  if ts.on_stop and protected(ts.on_stop, self) == STOP then res = STOP end
  if res == STOP or res == STOP_USER then return res end
  return res.reschedule and NOW or nil
end

-- self:interrupt(reschedule): leave the task set for its parent. With
-- reschedule = false the parent waits before picking its next task.
function Class:interrupt(reschedule)
  error({ interrupt = INTERRUPT, reschedule = reschedule ~= false }, 0)
end

local running = {}   -- id -> self of every user of this VM (its class is its metatable's __index)

-- on_stop of a user whose request was cut off at stop: the engine runs it
-- in a fresh coroutine (the user's own stays parked where it was cut).
function cicada._stop_user(id)
  local self = running[id]
  if self == nil then return end
  local mt = getmetatable(self)
  local cls = type(mt) == "table" and mt.__index or nil
  _flush()
  cicada._on_stop_begin()
  if type(cls) == "table" and cls.on_stop then
    _task("on_stop")
    protected(cls.on_stop, self)
  end
  _flush()
  running[id] = nil
end

-- The open model (--arrival-rate, engine/arrival.h): the user waits idle
-- for an iteration, runs one task pick, and goes back idle; no wait_time.
local _idle = cicada._idle
local function run_open(cls, self)
  local state = {}
  while _idle() ~= STOP do
    local t = pick(cls, state)
    if t ~= nil then
      local res = run_task(t, self, self)
      _flush()
      if res == STOP or res == STOP_USER then return end  -- cicada.stop_user(): the user ends
      if res ~= nil and res ~= NOW then
        local msg = "interrupt() called in a task of user class " .. cls._name ..
                    ": only a task set can be interrupted"
        _exception(msg, msg .. "\nin task " .. tostring(t.name))
      end
    end
  end
end

-- The body of every virtual user's coroutine.
function cicada._run(index, id, open)
  local cls = classes[index]
  local self = setmetatable({ id = id, host = cls.host }, cls._instance)
  self.client = setmetatable({}, client_class_mt(cls))
  if cls.max_body_size ~= nil then self.client.max_body_size = cls.max_body_size end
  running[id] = self
  local stop = false
  if cls.on_start then
    _task("on_start")
    local res = protected(cls.on_start, self)
    stop = res == STOP or res == STOP_USER
  end
  local state = {}
  if open and not stop then
    run_open(cls, self)
    stop = true
  end
  while not stop do
    local t = pick(cls, state)
    if t == nil then
      stop = _sleep(3600, true) == STOP   -- all tasks filtered out by tags: idle
    else
      local res = run_task(t, self, self)
      _flush()
      if res == STOP or res == STOP_USER then
        stop = true
      elseif res == NOW then
        stop = no_wait()
      else
        if res ~= nil then
          -- a task of the user class itself called self:interrupt()
          local msg = "interrupt() called in a task of user class " .. cls._name ..
                      ": only a task set can be interrupted"
          _exception(msg, msg .. "\nin task " .. tostring(t.name))
        end
        stop = wait(cls, self, self)
      end
    end
  end
  _flush()
  cicada._on_stop_begin()
  if cls.on_stop then
    _task("on_stop")
    protected(cls.on_stop, self)
  end
  _flush()
  running[id] = nil
end
