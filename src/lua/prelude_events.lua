-- prelude_events: Locust-style event hooks.
--
--   cicada.events.test_start:add_listener(function() ... end)
--   cicada.events.request:add_listener(function(ev)
--     -- ev.request_type, ev.name, ev.response_time (ms), ev.response_length,
--     -- ev.exception (nil for a success). Set ev.exception = "..." to fail
--     -- the request, or call cicada.report{...} to add one of your own.
--   end)
--
-- Every engine thread has its own Lua VM with its own listeners (the
-- scenario file runs once per VM), so init, test_start, test_stop,
-- spawning_complete and quitting fire once in each VM; request fires in the
-- VM of the user that made the request. Listeners run outside any user:
-- they must not block (no requests or sleeps; cicada.report is fine). An
-- error in a listener is recorded as an exception (shown in the console
-- once in full, then counted: never a log line per request) -- or logged,
-- in the main thread's VM, which has no statistics -- and the others
-- still run.

local cicada = cicada
local names = { "init", "test_start", "test_stop", "spawning_complete", "request",
                "quitting", "reset_stats" }

local Event = {}
Event.__index = Event

function Event:add_listener(fn)
  assert(type(fn) == "function", "add_listener takes a function")
  self._listeners[#self._listeners + 1] = fn
  if self._name == "request" then cicada._want_request_events(true) end
  return fn
end

function Event:remove_listener(fn)
  for i, f in ipairs(self._listeners) do
    if f == fn then table.remove(self._listeners, i) break end
  end
  if self._name == "request" and #self._listeners == 0 then
    cicada._want_request_events(false)
  end
end

local function with_traceback(err)
  local ok, msg = pcall(tostring, err)
  msg = ok and type(msg) == "string" and msg or ("(error object is a %s value)"):format(type(err))
  local tb = debug.traceback(msg, 2) -- not a tail call: level 2 is the listener's frame
  local cut = tb:find("\n%s*%[C%]: in function 'xpcall'")
  return cut and tb:sub(1, cut - 1) or tb
end

function Event:fire(...)
  for _, f in ipairs(self._listeners) do
    local ok, tb = xpcall(f, with_traceback, ...)
    if not ok then
      tb = ("error in %s listener: %s"):format(self._name, tostring(tb))
      local msg = tb:match("^[^\n]*")
      if not cicada._exception(msg, tb) then cicada._log_error(tb) end
    end
  end
end

cicada.events = {}
for _, n in ipairs(names) do
  cicada.events[n] = setmetatable({ _name = n, _listeners = {} }, Event)
end

-- Shorthand: cicada.on("test_start", fn)
function cicada.on(name, fn)
  local ev = cicada.events[name]
  if not ev then error("unknown event '" .. tostring(name) .. "'", 2) end
  return ev:add_listener(fn)
end

-- Called by C for each request when request listeners exist: returns the
-- (possibly changed) error text.
function cicada._fire_request(request_type, name, response_time, response_length, exception)
  local ev = { request_type = request_type, name = name, response_time = response_time,
               response_length = response_length, exception = exception }
  cicada.events.request:fire(ev)
  if ev.exception ~= nil and ev.exception ~= false then return tostring(ev.exception) end
  return nil
end

-- Called by C on engine commands.
function cicada._fire(name, ...)
  cicada.events[name]:fire(...)
end

-- Custom messages between a master and its workers (Locust's
-- register_message / send_message; docs/distributed.md, "Custom messages"):
--
--   cicada.register_message("test_users", function(data, msg)
--     -- msg.type, msg.data (== data), msg.node_id (the sender)
--   end)
--   cicada.send_message("test_users", { "u1", "u2" } [, client_id])
--
-- One handler per name (registering again replaces it). On a worker a
-- message from the master runs its handler in every engine's VM, outside
-- any user; on a master the handler runs in the master's own VM. A handler
-- must not block, like an event listener, and an error in it is recorded
-- the same way.
local protocol = {
  client_ready = true, ack = true, spawn = true, spawning = true, spawning_complete = true,
  heartbeat = true, stats = true, exception = true, stop = true, client_stopped = true,
  quit = true, reconnect = true,
}
local handlers = {}

function cicada.register_message(name, fn)
  if type(name) ~= "string" or #name == 0 or #name > 63 then
    error("register_message: the name must be a string of 1 to 63 bytes", 2)
  end
  if protocol[name] then
    error(("register_message: '%s' is a message of the master/worker protocol itself"):format(name), 2)
  end
  if type(fn) ~= "function" then error("register_message: the handler must be a function", 2) end
  handlers[name] = fn
  cicada._msg_register(name)
end

-- Called by C for a received message: false if this VM has no handler.
function cicada._on_message(name, data, node_id)
  local fn = handlers[name]
  if not fn then return false end
  local ok, tb = xpcall(fn, with_traceback, data, { type = name, data = data, node_id = node_id })
  if not ok then
    tb = ("error in the handler of message %s: %s"):format(name, tostring(tb))
    local msg = tb:match("^[^\n]*")
    if not cicada._exception(msg, tb) then cicada._log_error(tb) end
  end
  return true
end
