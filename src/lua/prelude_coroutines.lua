-- prelude_coroutines: coroutines created by the scenario, made to work
-- beside the users' own (which only the engine resumes).
--
-- A user is a coroutine that only the engine resumes. A task may still make
-- coroutines of its own (generators, coroutine.wrap iterators), and a
-- request or sleep inside one must park the whole user, not hand control
-- back to the task as if the coroutine had yielded (the task would go on at
-- once, skipping the response and the wait_time). So resume/yield/wrap are
-- replaced: a yield by the scenario carries a marker; a coroutine that
-- stops with no marker was parked by cicada (a request, a sleep), and its
-- resumer parks too, all the way up to the user, then hands the engine's
-- result back down when the engine resumes the user. coroutine.yield()
-- where no scenario coroutine runs (in the task itself) would park the
-- user with nothing to wake it: it is an error naming the call.

local STOP = cicada._STOP
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_status, co_running = coroutine.status, coroutine.running
local YIELD = {}                                  -- marks the scenario's own yields
local made = setmetatable({}, { __mode = "k" })  -- coroutines the scenario created
local busy = setmetatable({}, { __mode = "k" })  -- ... now parked by cicada

function coroutine.create(fn)
  local co = co_create(fn)
  made[co] = true
  return co
end

local after

-- The engine resumed the user with the result of what parked co: pass it on.
local function relay(co, ...)
  busy[co] = nil
  return after(co, co_resume(co, ...))
end

function after(co, ok, ...)
  if not ok then
    if (...) == STOP then error(STOP, 0) end -- the user must stop: do not let it be swallowed
    return false, ...
  end
  if (...) == YIELD then return true, select(2, ...) end
  if co_status(co) == "dead" then return true, ... end
  busy[co] = true            -- parked by cicada: park this coroutine (and the user) too
  return relay(co, co_yield(...))   -- what it yielded (a sleep) goes up to the engine
end

function coroutine.resume(co, ...)
  if busy[co] then
    return false, "cannot resume a coroutine that is waiting for a request or a sleep"
  end
  return after(co, co_resume(co, ...))
end

function coroutine.yield(...)
  if not made[co_running()] then
    error("coroutine.yield() called outside a coroutine created by the scenario: a task " ..
          "runs in its user's own coroutine, which only cicada may suspend " ..
          "(use cicada.sleep(0) to let other users run)", 2)
  end
  return co_yield(YIELD, ...)
end

local function unwrap(ok, ...)
  if ok then return ... end
  error((...), 0)
end

function coroutine.wrap(fn)
  local co = coroutine.create(fn)
  return function(...) return unwrap(coroutine.resume(co, ...)) end
end

if coroutine.isyieldable then
  function coroutine.isyieldable() return made[co_running()] == true end
end
