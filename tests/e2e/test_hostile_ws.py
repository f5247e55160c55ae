"""A hostile WebSocket server against examples-style scenarios (issue 8, item
17: what tests/fuzz/fuzz_ws.c found, end to end).

The server completes the handshake, then sends a binary frame header that
announces 2^31-1 bytes of payload, three bytes of it, and closes. A client
allowing frames that big (max_payload_len = 2^31-1) used to make cicada's
cosocket reserve the whole announced size (2 GB per user) before any of it
arrived; under a 4 GB address-space limit eight users ran it out of memory
and the process aborted with nothing written. Now the receive buffer grows
with what actually arrives: each attempt is a counted failure ("closed")
and the run ends normally with its CSVs."""

import resource
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import finish, free_port, write_scenario

SCENARIO = r"""
local client = require "resty.websocket.client"
local URL = "ws://127.0.0.1:" .. os.getenv("WS_PORT") .. "/"

U = cicada.user { wait_time = cicada.constant(0.05) }

U:task(1, function(self)
  local ws = client:new { timeout = 5000, max_payload_len = 2147483647 }
  local ok, err = ws:connect(URL)
  if not ok then
    cicada.report { type = "WS", name = "connect", response_time = 0, exception = err }
    return
  end
  local start = cicada.now()
  local data, typ, rerr = ws:recv_frame()
  cicada.report { type = "WS", name = "recv", response_time = (cicada.now() - start) * 1000,
                  response_length = data and #data or 0, exception = not data and rerr or nil }
  ws:close()
end)
"""


class HugeFrameServer:
    """Answers every WebSocket handshake, then claims a 2 GB frame and hangs up."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.frames = 0
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(5)
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = c.recv(4096)
                if not chunk:
                    return
                req += chunk
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
            c.sendall(b"\x82\x7f" + struct.pack(">Q", 2**31 - 1) + b"abc")
            with self.lock:
                self.frames += 1
            time.sleep(0.3)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def huge_frame_server():
    s = HugeFrameServer()
    try:
        yield s
    finally:
        s.stop()


def limit_address_space():
    four_gb = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (four_gb, four_gb))


@pytest.mark.time_limit(60)
def test_announced_frame_size_is_not_allocated(tmp_path, cicada, huge_frame_server):
    scenario = write_scenario(tmp_path, SCENARIO)
    prefix = tmp_path / "out"
    users = 8
    cmd = [str(cicada), "-f", str(scenario), "--headless", "-u", str(users), "-r", str(users),
           "-t", "3s", "--csv", str(prefix)]
    env = {"WS_PORT": str(huge_frame_server.port), "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit_address_space)
    try:
        run = finish(proc, 30, start, prefix)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    # it ran to its end (exit 1: the failures), not aborted out of memory
    assert run.returncode in (0, 1), run.output
    assert "out of memory" not in run.output.lower(), run.output
    recv = run.count("recv", "WS")
    assert recv >= users, run.output
    assert run.failures("recv", "WS") == recv, run.output
    assert run.count("connect", "WS") == 0, run.output
    # every frame the server sent was read as far as it went, and counted
    assert recv <= huge_frame_server.frames <= recv + users, run.output
