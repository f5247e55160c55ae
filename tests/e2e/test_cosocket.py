"""Cosockets and the ngx shim: OpenResty's drivers run unmodified.

- examples/redis.lua against a real redis-server (Debian), through the
  unmodified lua-nginx-redis driver: the stats rows for SET, GET and INCR
  equal the calls Redis counts in INFO commandstats, exactly.
- examples/websocket.lua against a real WebSocket echo server (ws_echo.py,
  Debian's python3-websockets) through lua-nginx-websocket: frames go out
  and come back, with no failures.
- The raw socket API against a small echo server: receive("*l"), a byte
  count, "*a", receiveuntil (whole, in chunks, inclusive), timeouts,
  "connection refused", "closed" with the partial data, send of nested
  tables, setkeepalive reusing the connection (getreusedtimes), UDP, and
  the ngx helpers the drivers use. Each check is reported as a stats row
  of type CHECK whose failure carries what went wrong.
- A user parked in a long receive when the run stops does not hold up
  the exit, and its socket is closed.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, free_port, stop_process, wait_port, write_scenario

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
WS_ECHO = Path(__file__).resolve().parent / "ws_echo.py"


# ---------------------------------------------------------------- servers


class EchoServer:
    """TCP echo on 127.0.0.1 (threads): sends back whatever arrives; after
    echoing a line "CLOSE\\n" it closes the connection; "SILENT\\n" makes it
    stop answering on that connection. Counts accepted connections."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.open = set()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        self.open.add(c)
        silent = False
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                if b"SILENT\n" in data:
                    silent = True
                if silent:
                    continue
                if b"CLOSE\n" in data:
                    c.sendall(data[: data.index(b"CLOSE\n") + 6])
                    return
                c.sendall(data)
        except OSError:
            pass
        finally:
            self.open.discard(c)
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


class UdpEcho:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
                self.sock.sendto(data, addr)
            except OSError:
                return

    def stop(self):
        self.sock.close()


@pytest.fixture
def echo():
    s = EchoServer()
    yield s
    s.stop()


@pytest.fixture
def redis_server(tmp_path):
    assert os.path.exists(REDIS_SERVER), "redis-server missing: apt-get install redis-server"
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 10, proc)
        yield port
    finally:
        stop_process(proc)


@pytest.fixture
def ws_server():
    port = free_port()
    proc = subprocess.Popen(["/usr/bin/python3", str(WS_ECHO), str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_port(port, 10, proc)
        yield port
    finally:
        stop_process(proc)
        proc.stderr.close()


def commandstats(port):
    out = subprocess.run([REDIS_CLI, "-p", str(port), "INFO", "commandstats"],
                         capture_output=True, text=True, timeout=10).stdout
    return {m.group(1).upper(): int(m.group(2))
            for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", out)}


# ---------------------------------------------------------------- drivers


@pytest.mark.time_limit(60)
def test_redis_example_counts_match_redis(run_cicada, redis_server):
    env = dict(os.environ, REDIS_PORT=str(redis_server))
    run = run_cicada(["-f", REPO / "examples" / "redis.lua", "--headless", "-u", "10", "-r", "10",
                      "-t", "3s", "--threads", "2"], env=env)
    assert run.returncode == 0, run.output
    calls = commandstats(redis_server)
    for cmd in ("SET", "GET", "INCR"):
        n = run.count(cmd, "REDIS")
        assert n > 50, f"too few {cmd}: {n}\n{run.output}"
        assert run.failures(cmd, "REDIS") == 0, run.output
        assert calls.get(cmd) == n, f"{cmd}: redis counted {calls.get(cmd)}, cicada {n}"
    # the connections were pooled and reused: far fewer than tasks
    clients = subprocess.run([REDIS_CLI, "-p", str(redis_server), "INFO", "stats"],
                             capture_output=True, text=True, timeout=10).stdout
    conns = int(re.search(r"total_connections_received:(\d+)", clients).group(1))
    assert conns < run.count("SET", "REDIS") / 5, f"{conns} connections for the tasks"


@pytest.mark.time_limit(60)
def test_websocket_example_echoes(run_cicada, ws_server):
    env = dict(os.environ, WS_PORT=str(ws_server))
    users = 10
    run = run_cicada(["-f", REPO / "examples" / "websocket.lua", "--headless", "-u", users,
                      "-r", users, "-t", "3s"], env=env)
    assert run.returncode == 0, run.output
    assert run.count("connect", "WS") == users, run.output
    sent, received = run.count("send", "WS"), run.count("recv", "WS")
    assert received > 100, run.output
    assert received <= sent <= received + users, run.output
    for name in ("connect", "send", "recv"):
        assert run.failures(name, "WS") == 0, run.output
    assert not run.csv["exceptions"], run.output


# ---------------------------------------------------------------- raw API

CHECKS = r"""
local PORT = tonumber(os.getenv("ECHO_PORT"))
local DEAD = tonumber(os.getenv("DEAD_PORT"))
local UDP = tonumber(os.getenv("UDP_PORT"))

local function check(name, ok, msg)
  cicada.report { type = "CHECK", name = name, response_time = 0,
                  exception = (not ok) and (msg or "failed") or nil }
end
local function eq(name, got, want)
  check(name, got == want, ("got %q, want %q"):format(tostring(got), tostring(want)))
end

local function connected()
  local s = ngx.socket.tcp()
  s:settimeout(2000)
  assert(s:connect("127.0.0.1", PORT))
  return s
end

Checker = cicada.user { wait_time = cicada.constant(0.05) }

Checker:task(1, function(self)
  if self.done then return end
  self.done = true

  local s = connected()
  eq("send returns bytes", s:send("hello\r\nworld\nabcdefgh"), 21)
  eq("receive *l strips CRLF", s:receive("*l"), "hello")
  eq("receive default is *l", s:receive(), "world")
  eq("receive n", s:receive(5), "abcde")
  eq("receive n rest", s:receive(3), "fgh")
  eq("send nested table", s:send({ "a", { "b", 1 }, "\n" }), 4)
  eq("nested table arrives", s:receive("*l"), "ab1")

  s:send("aaa--XYZbbb--XYZ")
  local r = s:receiveuntil("--XYZ")
  eq("receiveuntil 1", r(), "aaa")
  eq("receiveuntil 2", r(), "bbb")
  s:send("0123456789--B")
  r = s:receiveuntil("--B")
  eq("chunk 1", r(4), "0123")
  eq("chunk 2", r(4), "4567")
  eq("chunk 3", r(4), "89")
  eq("chunk end", r(4), nil)
  s:send("head\r\n\r\nbody")
  r = s:receiveuntil("\r\n\r\n", { inclusive = true })
  eq("receiveuntil inclusive", r(), "head\r\n\r\n")
  eq("after the boundary", s:receive(4), "body")

  s:settimeout(150)
  local t0 = cicada.now()
  local d, err, partial = s:receive(10)
  eq("timeout value", d, nil)
  eq("timeout error", err, "timeout")
  check("timeout took its time", cicada.now() - t0 >= 0.14 and cicada.now() - t0 < 1.5)
  s:send("xy")
  d, err, partial = s:receive(10)
  eq("timeout partial", partial, "xy")
  s:settimeout(2000)
  eq("still usable after a timeout", s:send("ok\n") and s:receive(), "ok")

  s:send("tail CLOSE\n")
  eq("receive *a until close", s:receive("*a"), "tail CLOSE\n")
  d, err = s:receive()
  eq("closed after close", err, "closed")

  s = connected()
  s:send("part CLOSE\n")
  d, err, partial = s:receive(100)
  eq("closed error", err, "closed")
  eq("closed partial", partial, "part CLOSE\n")
  eq("send after close", select(2, s:send("x")), "closed")

  local dead = ngx.socket.tcp()
  local ok, cerr = dead:connect("127.0.0.1", DEAD)
  eq("refused value", ok, nil)
  eq("refused error", cerr, "connection refused")

  -- keepalive: the second connect reuses the first connection
  s = connected()
  eq("fresh connection", s:getreusedtimes(), 0)
  s:send("k\n"); s:receive()
  eq("setkeepalive", s:setkeepalive(10000, 10), 1)
  eq("object closed after setkeepalive", select(2, s:send("x")), "closed")
  local s2 = connected()
  eq("reused", s2:getreusedtimes(), 1)
  eq("reused connection works", s2:send("again\n") and s2:receive(), "again")
  s2:setkeepalive()
  local s3 = ngx.socket.tcp()
  s3:connect("127.0.0.1", PORT, { pool = "other" })
  eq("named pool is separate", s3:getreusedtimes(), 0)
  eq("close", s3:close(), 1)
  eq("close twice", select(2, s3:close()), "closed")

  local u = ngx.socket.udp()
  u:settimeout(2000)
  eq("udp setpeername", u:setpeername("127.0.0.1", UDP), 1)
  eq("udp send", u:send("ping"), 1)
  eq("udp receive", u:receive(), "ping")
  u:close()

  eq("base64", ngx.encode_base64("hello"), "aGVsbG8=")
  eq("base64 no padding", ngx.encode_base64("hello", true), "aGVsbG8")
  eq("unbase64", ngx.decode_base64("aGVsbG8="), "hello")
  eq("unbase64 bad", ngx.decode_base64("a$b"), nil)
  eq("md5", ngx.md5(""), "d41d8cd98f00b204e9800998ecf8427e")
  eq("sha1_bin", ngx.encode_base64(ngx.sha1_bin("abc")), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=")
  local m = ngx.re.match("ws://h:12/p", [[^(wss?)://([^:/]+)(?::(\d+))?(.*)]], "jo")
  eq("re.match 1", m and m[1], "ws")
  eq("re.match 3", m and m[3], "12")
  eq("re.match 4", m and m[4], "/p")
  m = ngx.re.match("wss://host", [[^(wss?)://([^:/]+)(?::(\d+))?(.*)]], "jo")
  eq("re.match unmatched group", m and m[3], false)
  eq("re.match no match", ngx.re.match("x", [[^\d+$]]), nil)
  eq("re.find", select(2, ngx.re.find("abc123", [[\d+]])), 6)
  eq("ngx.null", ngx.null, cicada.null)
  check("resty.core probe fails gracefully", not pcall(require, "resty.core"))
  eq("bit", require("bit").band(6, 3), 2)
  check("ngx.now", math.abs(ngx.now() - os.time()) < 5)
  eq("phase", ngx.get_phase(), "timer")
end)
"""


@pytest.mark.time_limit(60)
def test_raw_cosocket_api(run_cicada, tmp_path, echo):
    udp = UdpEcho()
    try:
        env = dict(os.environ, ECHO_PORT=str(echo.port), DEAD_PORT=str(free_port()),
                   UDP_PORT=str(udp.port))
        run = run_cicada(["-f", write_scenario(tmp_path, CHECKS), "--headless", "-u", "1",
                          "-r", "1", "-t", "3s"], env=env)
    finally:
        udp.stop()
    rows = [r for r in run.csv.get("stats", []) if r["Type"] == "CHECK"]
    names = set(re.findall(r'\n\s*(?:eq|check)\("([^"]+)"', CHECKS))
    missing = names - {r["Name"] for r in rows}
    assert not missing, f"checks not reported: {sorted(missing)}\n{run.output}"
    failed = [(r["Name"], e["Error"]) for r in rows if int(r["Failure Count"])
              for e in run.csv["failures"] if e["Name"] == r["Name"]]
    assert not failed, failed
    assert all(int(r["Request Count"]) == 1 for r in rows), rows
    assert not run.csv["exceptions"], run.output
    # one connection per connect() except the reused one, all closed at the end
    deadline = time.monotonic() + 5
    while echo.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not echo.open, f"{len(echo.open)} connections left open"


PARKED = r"""
Waiter = cicada.user { wait_time = cicada.constant(0) }
Waiter:task(1, function(self)
  local s = ngx.socket.tcp()
  s:settimeout(60000)
  assert(s:connect("127.0.0.1", tonumber(os.getenv("ECHO_PORT"))))
  s:send("SILENT\n")
  s:receive()   -- never answered
end)
"""


@pytest.mark.time_limit(60)
def test_stop_closes_parked_sockets(run_cicada, tmp_path, echo):
    env = dict(os.environ, ECHO_PORT=str(echo.port))
    run = run_cicada(["-f", write_scenario(tmp_path, PARKED), "--headless", "-u", "20",
                      "-r", "20", "-t", "1s"], env=env, timeout=20)
    assert run.returncode == 0, run.output
    assert run.duration < 8, f"stop took {run.duration:.1f} s"
    assert echo.accepted == 20
    deadline = time.monotonic() + 5
    while echo.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not echo.open, f"{len(echo.open)} connections left open"


TLS = r"""
local PORT = tonumber(os.getenv("TLS_PORT"))
local function check(name, ok, msg)
  cicada.report { type = "CHECK", name = name, response_time = 0,
                  exception = (not ok) and (msg or "failed") or nil }
end
Checker = cicada.user { wait_time = cicada.constant(0.05) }
Checker:task(1, function(self)
  if self.done then return end
  self.done = true
  local s = ngx.socket.tcp()
  s:settimeout(3000)
  assert(s:connect("127.0.0.1", PORT))
  local ok, err = s:sslhandshake(false, "localhost", false)
  check("handshake", ok, err)
  check("send over tls", s:send("secret\n") == 7)
  local line, rerr = s:receive()
  check("echo over tls", line == "secret", tostring(line) .. " " .. tostring(rerr))
  s:close()
  s = ngx.socket.tcp()
  s:settimeout(3000)
  assert(s:connect("127.0.0.1", PORT))
  ok, err = s:sslhandshake(false, "localhost", true)
  check("verify fails on a self-signed certificate", not ok and err and err:find("certificate"),
        tostring(err))
end)
"""


@pytest.mark.time_limit(60)
def test_sslhandshake(run_cicada, tmp_path):
    import ssl
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-keyout", key, "-out", cert, "-days", "1"],
                   check=True, capture_output=True, timeout=30)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(c, server_side=True) as t:
                    while data := t.recv(4096):
                        t.sendall(data)
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        env = dict(os.environ, TLS_PORT=str(port))
        run = run_cicada(["-f", write_scenario(tmp_path, TLS), "--headless", "-u", "1",
                          "-r", "1", "-t", "2s"], env=env)
    finally:
        lsock.close()
    rows = {r["Name"]: r for r in run.csv.get("stats", []) if r["Type"] == "CHECK"}
    assert len(rows) == 4, run.output
    bad = [(e["Name"], e["Error"]) for e in run.csv["failures"]]
    assert not bad, bad


class TlsEcho:
    """TLS echo on 127.0.0.1 with a certificate for localhost and
    127.0.0.1; notes the SNI name of each handshake (None: no SNI)."""

    def __init__(self, cert, key):
        import ssl
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.names = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.names.append(name)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import ssl
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(c, server_side=True) as t:
                    while data := t.recv(4096):
                        t.sendall(data)
            except (OSError, ssl.SSLError):
                pass

    def stop(self):
        self.lsock.close()


TLS_NET = r"""
local PORT = tonumber(os.getenv("TLS_PORT"))
local function check(name, ok, msg)
  cicada.report { type = "CHECK", name = name, response_time = 0,
                  exception = (not ok) and (msg or "failed") or nil }
end
local function hello(name, server_name, verify)
  local s = ngx.socket.tcp()
  s:settimeout(3000)
  assert(s:connect("127.0.0.1", PORT))
  local ok, err = s:sslhandshake(false, server_name, verify)
  if ok then
    s:send("hi\n")
    local line, rerr = s:receive()
    ok, err = line == "hi", rerr
  end
  check(name, ok, tostring(err))
  s:close()
end
Checker = cicada.user { wait_time = cicada.constant(0.05) }
Checker:task(1, function(self)
  if self.done then return end
  self.done = true
  hello("verified by name", "localhost", true)
  hello("verified by address", "127.0.0.1", true)
  hello("address, no verification", "127.0.0.1", false)
end)
"""


def run_tls_checks(run_cicada, tmp_path, port, *flags):
    env = dict(os.environ, TLS_PORT=str(port))
    run = run_cicada(["-f", write_scenario(tmp_path, TLS_NET), "--headless", "-u", "1",
                      "-r", "1", "-t", "2s", *flags], env=env, timeout=30)
    rows = {r["Name"]: r for r in run.csv.get("stats", []) if r["Type"] == "CHECK"}
    assert len(rows) == 3, run.output
    return [(e["Name"], e["Error"]) for e in run.csv["failures"]]


def self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert, "-days", "1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.mark.time_limit(60)
def test_sslhandshake_honours_ca_file_and_insecure(run_cicada, tmp_path):
    """The cosocket's TLS is the HTTP client's (src/net): --ca-file's bundle
    verifies the server (the system store does not know it), by name and
    by address; without it verification fails; --insecure turns
    ssl_verify off."""
    cert, key = self_signed(tmp_path)
    srv = TlsEcho(cert, key)
    try:
        bad = run_tls_checks(run_cicada, tmp_path, srv.port, "--ca-file", str(cert))
        assert not bad, bad
        bad = run_tls_checks(run_cicada, tmp_path, srv.port)
        assert sorted(n for n, _ in bad) == ["verified by address", "verified by name"], bad
        assert all("self-signed certificate" in e for _, e in bad), bad
        bad = run_tls_checks(run_cicada, tmp_path, srv.port, "--insecure")
        assert not bad, bad
    finally:
        srv.stop()


@pytest.mark.time_limit(60)
def test_sslhandshake_sends_no_sni_for_addresses(run_cicada, tmp_path):
    """server_name "localhost" goes out as SNI; "127.0.0.1" does not (RFC
    6066 forbids IP literals in SNI), with or without verification."""
    cert, key = self_signed(tmp_path)
    srv = TlsEcho(cert, key)
    try:
        run_tls_checks(run_cicada, tmp_path, srv.port, "--ca-file", str(cert))
        assert srv.names == ["localhost", None, None], srv.names
    finally:
        srv.stop()
