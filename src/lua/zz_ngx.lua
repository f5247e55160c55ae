-- zz_ngx: the Lua half of the `ngx` shim (the C half is src/lua/ngx.c), so
-- that pure-Lua drivers written for OpenResty's cosockets run inside a
-- cicada user: ngx.socket.tcp/udp are cicada's cosockets, ngx.sleep parks
-- the user, ngx.null is cicada.null (= cjson.null, as in OpenResty). A
-- load-test user is not inside an nginx request: ngx.var, ngx.ctx and
-- ngx.header are plain tables, and the phase is "timer", like code in an
-- ngx.timer callback. The file name sorts after prelude*.lua on purpose:
-- the prelude is these files concatenated in order.
do
  local ngx, cicada = ngx, cicada

  ngx.socket = { tcp = cicada.tcp, udp = cicada.udp, stream = cicada.tcp }
  ngx.null = cicada.null
  ngx.OK, ngx.ERROR, ngx.AGAIN, ngx.DONE, ngx.DECLINED = 0, -1, -2, -4, -5
  ngx.config = {
    ngx_lua_version = 10025, -- what drivers test for features (SSL sockets: 9011)
    nginx_version = 1022001,
    debug = false,
    subsystem = "http",
    prefix = function() return "" end,
    nginx_configure = function() return "" end,
  }
  ngx.var, ngx.ctx, ngx.header, ngx.shared = {}, {}, {}, {}
  ngx.worker = {
    id = function() return 0 end,
    count = function() return 1 end,
    pid = function() return 0 end,
    exiting = function() return cicada._stopping() end,
  }

  function ngx.sleep(seconds) cicada.sleep(seconds) end
  function ngx.get_phase() return "timer" end
  function ngx.today() return os.date("%Y-%m-%d") end
  function ngx.localtime() return os.date("%Y-%m-%d %H:%M:%S") end
  function ngx.utctime() return os.date("!%Y-%m-%d %H:%M:%S") end

  function ngx.escape_uri(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", c:byte())
    end))
  end
  function ngx.unescape_uri(s)
    return (tostring(s):gsub("%%(%x%x)", function(h)
      return string.char(tonumber(h, 16))
    end))
  end

  -- Debian installs OpenResty's libraries as nginx.X (lua-nginx-redis is
  -- nginx.redis): let require "resty.X" find them when no resty.X exists.
  local loaders = package.loaders
  loaders[#loaders + 1] = function(name)
    local rest = name:match("^resty%.(.+)$")
    if not rest then return nil end
    local path, err = package.searchpath("nginx." .. rest, package.path)
    if not path then return "\n\tno file for nginx." .. rest end
    local chunk, lerr = loadfile(path)
    if not chunk then error(lerr, 2) end
    return chunk
  end
end
