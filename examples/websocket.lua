-- examples/websocket.lua: load-test a WebSocket server with OpenResty's
-- WebSocket client, unmodified (Debian's lua-nginx-websocket, installed as
-- nginx.websocket.client; require "resty.websocket.client" finds it),
-- running on cicada's cosockets.
--
--   python3 tests/e2e/ws_echo.py 8765 &      # any echo server will do
--   WS_URL=ws://127.0.0.1:8765/ ./cicada -f examples/websocket.lua --headless -u 20 -r 20 -t 30s
--
-- Each user keeps one connection open (made in on_start, made again if it
-- breaks) and sends text frames, waiting for each echo. Sending and
-- receiving are reported as separate rows of type WS ("send", "recv"), and
-- the handshake as "connect"; a wrong echo is a failure.

local client = require "resty.websocket.client"

local URL = os.getenv("WS_URL") or ("ws://127.0.0.1:" .. (os.getenv("WS_PORT") or "8765") .. "/")

local function report(name, start, len, err)
  cicada.report { type = "WS", name = name, response_time = (cicada.now() - start) * 1000,
                  response_length = len or 0, exception = err }
end

WebSocketUser = cicada.user {
  wait_time = cicada.between(0.01, 0.05),
}

function WebSocketUser:connect()
  local ws = client:new { timeout = 5000, max_payload_len = 1048576 }
  local start = cicada.now()
  local ok, err = ws:connect(URL)
  report("connect", start, 0, not ok and err or nil)
  self.ws = ok and ws or nil
  self.n = 0
end

function WebSocketUser:on_start()
  self:connect()
end

WebSocketUser:task(1, function(self)
  if not self.ws then return self:connect() end
  self.n = self.n + 1
  local text = "hello " .. self.id .. " #" .. self.n

  local start = cicada.now()
  local bytes, err = self.ws:send_text(text)
  report("send", start, bytes, not bytes and err or nil)
  if not bytes then self.ws = nil return end

  start = cicada.now()
  local data, typ, rerr = self.ws:recv_frame()
  if not data then
    report("recv", start, 0, rerr)
    self.ws = nil
  elseif typ ~= "text" or data ~= text then
    report("recv", start, #data, "unexpected echo: " .. typ .. " " .. data)
  else
    report("recv", start, #data)
  end
end)

function WebSocketUser:on_stop()
  if self.ws then
    self.ws:send_close()
    self.ws:close()
  end
end
