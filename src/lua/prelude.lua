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
local _sleep, _flush, _exception = cicada._sleep, cicada._flush, cicada._exception
local random, floor, max = math.random, math.floor, math.max
local traceback = debug.traceback

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
  if _sleep(seconds) == STOP then error(STOP, 0) end
end

-- ---- user classes ----

local Class = {}   -- methods of every user class (task, ...)
Class.__index = Class

-- cicada.user { host = , weight = , wait_time = , fixed_count = , abstract = }
function cicada.user(def)
  def = def or {}
  assert(type(def) == "table", "cicada.user{...} takes a table")
  local cls = { _cicada_class = true, _tasks = {}, weight = 1, fixed_count = 0 }
  for k, v in pairs(def) do cls[k] = v end
  if cls.wait_time ~= nil and type(cls.wait_time) ~= "function" then
    error("wait_time must be a function such as cicada.between(1, 2)", 2)
  end
  if type(cls.weight) ~= "number" or cls.weight < 0 then
    error("weight must be a non-negative number", 2)
  end
  cls._instance = { __index = cls }
  return setmetatable(cls, Class)
end

-- Class:task(weight, fn) or Class:task(fn); options as a table:
-- Class:task{ weight = 2, name = "checkout", tags = {"shop"}, fn }
function Class:task(a, b)
  local t
  if type(a) == "function" then
    t = { fn = a, weight = 1 }
  elseif type(a) == "number" and type(b) == "function" then
    t = { fn = b, weight = a }
  elseif type(a) == "table" then
    t = { fn = a.fn or a[1], weight = a.weight or 1, name = a.name, tags = a.tags }
  end
  if t == nil or type(t.fn) ~= "function" then
    error("task takes (weight, function) or (function)", 2)
  end
  if type(t.weight) ~= "number" or t.weight < 0 or t.weight ~= floor(t.weight) then
    error("a task's weight must be a non-negative integer", 2)
  end
  if not t.name then
    local info = debug.getinfo(t.fn, "S")
    t.name = ("%s:%d"):format(info.short_src, info.linedefined)
  end
  local tasks = rawget(self, "_tasks")
  tasks[#tasks + 1] = t
  return t.fn
end

-- ---- discovery (called by C after the scenario ran) ----

local classes = {}

local function tag_filter(tasks, tags, exclude)
  local out = {}
  for _, t in ipairs(tasks) do
    local keep = true
    if tags and #tags > 0 then
      keep = false
      for _, tg in ipairs(t.tags or {}) do
        for _, want in ipairs(tags) do if tg == want then keep = true end end
      end
    end
    for _, tg in ipairs(t.tags or {}) do
      for _, no in ipairs(exclude or {}) do if tg == no then keep = false end end
    end
    if keep and t.weight > 0 then out[#out + 1] = t end
  end
  return out
end

-- Returns the sorted class names; raises a clear error for a class with no
-- tasks. conf: { host = -H or nil, tags = {...}, exclude_tags = {...} }
function cicada._discover(conf)
  local names = {}
  for name, v in pairs(_G) do
    if type(v) == "table" and rawget(v, "_cicada_class") and not rawget(v, "abstract") then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  for i, name in ipairs(names) do
    local cls = _G[name]
    cls._name = name
    if conf.host and conf.host ~= "" then cls.host = conf.host end
    local tasks = tag_filter(cls._tasks, conf.tags, conf.exclude_tags)
    if #cls._tasks == 0 then
      error(("user class '%s' has no tasks: add one with %s:task(function(self) ... end)")
            :format(name, name), 0)
    end
    local cum, total = {}, 0
    for j, t in ipairs(tasks) do total = total + t.weight; cum[j] = total end
    cls._run_tasks, cls._cum, cls._total = tasks, cum, total
    classes[i] = cls
  end
  return names
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

-- Class facts for the main thread: weight, fixed_count, host, task count.
function cicada._class_info(i)
  local c = classes[i]
  return c._name, c.weight, c.fixed_count or 0, c.host or "", #c._run_tasks
end

-- ---- the user loop ----

local client_mt = { __index = cicada._client_methods }

local function on_error(err)
  if err == STOP then return STOP end
  local msg = tostring(err)
  -- the user's frames only: cut where the prelude's own frames begin
  local tb = traceback(msg, 2)
  local cut = tb:find("\n%s*%[C%]: in function 'xpcall'")
  if cut then tb = tb:sub(1, cut - 1) end
  return { msg = msg, tb = tb }
end

-- Run fn(self) catching errors. Returns true if the user must stop.
local function protected(fn, self)
  local ok, err = xpcall(fn, on_error, self)
  if ok then return false end
  if err == STOP then return true end
  _exception(err.msg, err.tb)
  return false
end

local function pick(cls)
  local cum, total = cls._cum, cls._total
  if total <= 0 then return nil end
  local r = random() * total
  for i = 1, #cum do
    if r < cum[i] then return cls._run_tasks[i] end
  end
  return cls._run_tasks[#cum]
end

-- The body of every virtual user's coroutine.
function cicada._run(index, id)
  local cls = classes[index]
  local self = setmetatable({ id = id, host = cls.host }, cls._instance)
  self.client = setmetatable({ base_url = cls.host }, client_mt)
  local stop = false
  if cls.on_start then stop = protected(cls.on_start, self) end
  local wait_time = cls.wait_time
  while not stop do
    local t = pick(cls)
    if t == nil then
      stop = _sleep(3600, true) == STOP   -- all tasks filtered out by tags: idle
    else
      stop = protected(t.fn, self)
      _flush()
      if not stop then
        local w = wait_time and wait_time(self) or 0
        stop = _sleep(w, true) == STOP
      end
    end
  end
  _flush()
  cicada._on_stop_begin()
  if cls.on_stop then protected(cls.on_stop, self) end
  _flush()
end
