-- examples/redis.lua: load-test a Redis server with OpenResty's Redis
-- driver, unmodified (Debian's lua-nginx-redis, installed as nginx.redis;
-- require "resty.redis" finds it), running on cicada's cosockets.
--
--   redis-server --port 6379 --save '' --appendonly no &
--   REDIS_PORT=6379 ./cicada -f examples/redis.lua --headless -u 20 -r 20 -t 30s
--
-- Each command is timed with cicada.now() and reported with cicada.report,
-- so SET, GET and INCR get their own rows (type REDIS) in the statistics,
-- next to any HTTP requests. Connections go back to the engine's pool with
-- set_keepalive and are reused by the next task (get_reused_times() > 0).

local redis = require "resty.redis"

local HOST = os.getenv("REDIS_HOST") or "127.0.0.1"
local PORT = tonumber(os.getenv("REDIS_PORT") or "6379")

-- Run one command, time it and report it. Returns the reply (or nil).
local function command(r, name, ...)
  local start = cicada.now()
  local res, err = r[name:lower()](r, ...)
  local ms = (cicada.now() - start) * 1000
  if res == nil or res == false then
    -- nil: the connection failed; false: Redis answered with an error
    cicada.report { type = "REDIS", name = name, response_time = ms,
                    response_length = 0, exception = err or "error reply" }
    return nil
  end
  local len = res == ngx.null and 0 or #tostring(res)
  cicada.report { type = "REDIS", name = name, response_time = ms, response_length = len }
  return res
end

RedisUser = cicada.user {
  wait_time = cicada.between(0.01, 0.05),
}

RedisUser:task(1, function(self)
  local r = redis:new()
  r:set_timeout(2000) -- ms, for connect, send and receive
  local start = cicada.now()
  local ok, err = r:connect(HOST, PORT)
  if not ok then
    cicada.report { type = "REDIS", name = "CONNECT", response_time = (cicada.now() - start) * 1000,
                    exception = err }
    return
  end
  local key = "cicada:user:" .. self.id
  command(r, "SET", key, "value of user " .. self.id)
  command(r, "GET", key)
  command(r, "INCR", "cicada:counter")
  -- back to the pool (idle for at most 10 s, at most 100 per engine)
  r:set_keepalive(10000, 100)
end)
