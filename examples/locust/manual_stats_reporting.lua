-- examples/locust/manual_stats_reporting.lua: Locust's
-- examples/manual_stats_reporting.py: time a block of code yourself and add
-- it to the statistics, as a success or (when it raises) a failure.
--
--   ./cicada -f examples/locust/manual_stats_reporting.lua --headless -u 5 -r 5 -t 30s
--
-- Locust fires events.request from a context manager; cicada's equivalent
-- is cicada.report{...} (the request listeners see it too). Lua has no
-- `with` or decorators: manual_report(name, fn) runs fn and reports it, and
-- manual_report(name, fn) with no call returns the wrapped function, for use
-- as a task. The errors are re-raised on purpose, as in Locust: they show up
-- as failures (type "manual") AND as exceptions.

local function report(name, start_time, exception)
  cicada.report {
    type = "manual",
    name = name,
    response_time = (cicada.now() - start_time) * 1000, -- ms
    response_length = 0,
    exception = exception,
  }
end

-- Run fn(...) and report its run time under `name`.
local function run_reported(name, fn, ...)
  local start_time = cicada.now()
  local ok, err = pcall(fn, ...)
  if not ok then
    -- cicada.sleep and requests raise a private value (not a string) when
    -- the test stops: pass it on untouched, and do not report it.
    if type(err) == "string" or type(err) == "table" then
      report(name, start_time, tostring(err))
    end
    error(err, 0)
  end
  report(name, start_time, nil)
end

-- manual_report("name", fn): a task function that reports fn's run time.
local function manual_report(name, fn)
  return function(...) return run_reported(name, fn, ...) end
end

MyUser = cicada.user { -- a User, not an HttpUser: no host, no requests
  wait_time = cicada.constant(1),
}

MyUser:task(function(self) -- successful_task: "with manual_report(...)"
  run_reported("successful_task", function()
    cicada.sleep(math.random())
  end)
end)

MyUser:task(manual_report("decorator_test", function(self) -- "@manual_report"
  if math.random() > 0.5 then error("decorator_task failed") end
  cicada.sleep(math.random())
end))

MyUser:task(function(self) -- failing_task
  run_reported("failing_task", function()
    cicada.sleep(math.random())
    error("Oh nooes!")
  end)
end)
