"""The HTTP client against servers that misbehave (issue 8, items 1-4).

Every test starts a small Python server on free 127.0.0.1 ports whose
paths each play one part, and that counts every request it reads; the
test then checks cicada's own counts against the server's.

- Close-delimited bodies (no length, no chunking) of 1 KiB and 100 MiB
  end when the server closes, with no timeout; a body shorter than its
  Content-Length and a truncated chunk fail with requests' IncompleteRead
  error.
- A request that a server reads and then drops without answering on a
  reused keep-alive connection is sent again only when that is safe
  (GET...), never for a POST: the server's count of POSTs is cicada's.
- `101 Switching Protocols` ends the HTTP exchange: the connection is not
  reused for the next request.
- Memory bounds: the body cap (default 64 MiB; `max_body_size` per request
  or per class) turns a larger body into a failure; connection buffers
  shrink back after a big response; a gzip bomb stops at the cap; a user
  that visits 100 origins keeps at most 16 idle connections.
"""

import collections
import re
import selectors
import socket
import threading
import time
import zlib
from pathlib import Path

import pytest

from conftest import write_scenario

MiB = 1 << 20
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Hostile:
    """An HTTP/1.1 server on `nports` free ports of 127.0.0.1. `routes` maps
    a path to fn(conn, method, nth) -> keep: it writes whatever it likes on
    the socket (nth: how many requests this connection carried before) and
    says whether to read another request from it. Every request read is
    counted per (method, path); `open` is the number of connections open."""

    def __init__(self, routes, nports=1):
        self.routes = routes
        self.counts = collections.Counter()
        self.open = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.listeners = []
        self.sel = selectors.DefaultSelector()
        for _ in range(nports):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(128)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.listeners.append(s)
        self.ports = [s.getsockname()[1] for s in self.listeners]
        self.url = f"http://127.0.0.1:{self.ports[0]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                conn.setblocking(True)
                with self.lock:
                    self.open += 1
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")
        try:
            nth = 0
            while not self.stopping:
                line = f.readline()
                if not line:
                    return
                method, target = line.decode("latin-1").split(" ")[:2]
                length = 0
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if length:
                    f.read(length)
                path = target.split("?", 1)[0]
                with self.lock:
                    self.counts[(method, path)] += 1
                if not self.routes[path](conn, method, nth):
                    return
                nth += 1
        except (OSError, ValueError):
            pass
        finally:
            f.close()
            conn.close()
            with self.lock:
                self.open -= 1

    def count(self, path, method="GET"):
        with self.lock:
            return self.counts[(method, path)]

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        for s in self.listeners:
            s.close()
        self.sel.close()


@pytest.fixture
def hostile():
    started = []

    def make(routes, nports=1):
        h = Hostile(routes, nports)
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


def run_users(runner, tmp_path, body, host, users=1, run_time="3s", cls="", timeout=40,
              spawn=False):
    """Each of `users` users runs `body` (Lua, with `self`) once in on_start
    and then sleeps until the run ends at run_time, so that no request is in
    flight at the stop. runner is the run_cicada fixture (returns the Run),
    or with spawn=True the spawn_cicada one (returns the process and its
    finish function)."""
    scenario = write_scenario(tmp_path, f"""\
Hostile = cicada.user {{ wait_time = cicada.constant(100){cls} }}
function Hostile:on_start()
{body}
end
Hostile:task(1, function(self) cicada.sleep(100) end)
""", "hostile.lua")
    args = ["-f", scenario, "--headless", "-u", users, "-r", users, "-t", run_time, "-H", host,
            "--only-summary"]
    return runner(args) if spawn else runner(args, timeout=timeout)


def errors(run, name):
    """{error text: occurrences} of the failures of the row `name`."""
    out = {}
    for r in run.csv.get("failures", []):
        if r["Name"] == name:
            out[r["Error"]] = out.get(r["Error"], 0) + int(r["Occurrences"])
    return out


def vm_hwm_kb(pid):
    """Peak resident memory of a process (VmHWM, kB), or None once it ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def watch_hwm(proc, finish, timeout=40):
    """Run a spawned cicada to its end, reading its VmHWM as it goes; returns
    (Run, the last peak read in kB)."""
    hwm = 0
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        v = vm_hwm_kb(proc.pid)
        if v:
            hwm = max(hwm, v)
        time.sleep(0.05)
    return finish(timeout=10), hwm


# ---------------------------------------------------------------- behaviours


def close_delimited(size, version=b"1.1"):
    """A 200 with no length and no chunking: the body ends when we close."""
    def route(conn, method, nth):
        head = b"HTTP/" + version + b" 200 OK\r\nContent-Type: text/plain\r\n"
        if version == b"1.1":
            head += b"Connection: close\r\n"
        if size <= 64 * 1024:  # headers, body and the close in one go
            conn.sendall(head + b"\r\n" + b"x" * size)
        else:
            conn.sendall(head + b"\r\n")
            block = b"y" * MiB
            for _ in range(size // MiB):
                conn.sendall(block)
        return False
    return route


def short_length(conn, method, nth):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
    return False


def truncated_chunk(conn, method, nth):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc")
    return False


def keep_alive_ok(conn, method, nth):
    conn.sendall(OK)
    return True


# ---------------------------------------------------------------- item 1


INCOMPLETE_LENGTH = ("ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(5 bytes "
                     "read, 95 more expected)', IncompleteRead(5 bytes read, 95 more expected)))")
INCOMPLETE_CHUNK = ("ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes "
                    "read, 13 more expected)', IncompleteRead(3 bytes read, 13 more expected)))")


@pytest.mark.time_limit(90)
def test_close_delimited_bodies_end_at_close(tmp_path, hostile, run_cicada):
    """4 users x 100 requests of a 1 KiB close-delimited body (HTTP/1.1 with
    Connection: close, and HTTP/1.0): no timeout, every body whole, and
    cicada's counts are the server's."""
    h = hostile({"/c11": close_delimited(1024), "/c10": close_delimited(1024, b"1.0")})
    out = tmp_path / "bad.txt"
    run = run_users(run_cicada, tmp_path, f"""
  local bad = 0
  for i = 1, 50 do
    for _, p in ipairs({{ "/c11", "/c10" }}) do
      local r = self.client:get(p, {{ timeout = 2 }})
      if #r.text ~= 1024 then bad = bad + 1 end
    end
  end
  local f = io.open("{out}", "a"); f:write(bad, "\\n"); f:close()
""", h.url, users=4, run_time="4s")
    assert run.count("/c11") == 200 and run.count("/c10") == 200, run.output
    assert errors(run, "/c11") == {} and errors(run, "/c10") == {}, run.csv["failures"]
    assert out.read_text().split() == ["0"] * 4
    assert h.count("/c11") == run.count("/c11") and h.count("/c10") == run.count("/c10")


@pytest.mark.time_limit(90)
def test_big_close_delimited_and_truncated_bodies(tmp_path, hostile, run_cicada):
    """A 100 MiB close-delimited body arrives whole (with a cap raised above
    it); a body shorter than its Content-Length and a chunk cut short fail at
    once with requests' IncompleteRead error, not a timeout."""
    h = hostile({"/big": close_delimited(100 * MiB, b"1.0"), "/short": short_length,
                 "/chunk": truncated_chunk})
    out = tmp_path / "out.txt"
    run = run_users(run_cicada, tmp_path, f"""
  local f = io.open("{out}", "w")
  local r = self.client:get("/big", {{ timeout = 10, max_body_size = 128 * 1024 * 1024 }})
  f:write("big ", tostring(r.ok), " ", #r.text, " ", tostring(r.text:sub(1, 3)), "\\n")
  for i = 1, 3 do
    local s = self.client:get("/short", {{ timeout = 3 }})
    local c = self.client:get("/chunk", {{ timeout = 3 }})
    f:write(string.format("short %s %d %.1f chunk %s %d %.1f\\n", tostring(s.ok), s.status_code,
                          s.elapsed, tostring(c.ok), c.status_code, c.elapsed))
  end
  f:close()
""", h.url, run_time="3s")
    lines = out.read_text().splitlines() if out.exists() else []
    assert len(lines) == 4, f"the user did not get through its requests: {lines}\n{run.output}"
    assert lines[0] == f"big true {100 * MiB} yyy", run.output
    for line in lines[1:]:
        f = line.split()
        # a failure without a whole response has no status, as in Locust
        assert f[1:3] == ["false", "0"] and f[5:7] == ["false", "0"], lines
        assert float(f[3]) < 2.5 and float(f[7]) < 2.5, f"a truncated body took its timeout: {line}"
    assert errors(run, "/short") == {INCOMPLETE_LENGTH: 3}, run.csv["failures"]
    assert errors(run, "/chunk") == {INCOMPLETE_CHUNK: 3}, run.csv["failures"]
    for p, n in (("/big", 1), ("/short", 3), ("/chunk", 3)):
        assert run.count(p) == n == h.count(p), (p, run.count(p), h.count(p))


# ---------------------------------------------------------------- item 2


def answer_once_then_drop(conn, method, nth):
    """The first request of a connection gets an answer; the next is read
    and the connection closed without a word."""
    if nth == 0:
        conn.sendall(OK)
        return True
    return False


REMOTE_DISCONNECTED = "RemoteDisconnected('Remote end closed connection without response')"


@pytest.mark.time_limit(60)
def test_post_is_never_sent_twice(tmp_path, hostile, run_cicada):
    """On a reused connection that the server drops after reading the
    request, a GET is sent again on a new one (nothing of the response came:
    safe), a POST fails with RemoteDisconnected: the server's POSTs are
    cicada's POSTs."""
    h = hostile({"/p": answer_once_then_drop, "/g": answer_once_then_drop})
    run = run_users(run_cicada, tmp_path, """
  for i = 1, 15 do self.client:post("/p", { data = "x" .. i, timeout = 3 }) end
  for i = 1, 15 do self.client:get("/g", { timeout = 3 }) end
""", h.url, users=2, run_time="3s")
    posts = run.count("/p", "POST")
    assert posts == 30, run.output
    assert h.count("/p", "POST") == posts, \
        f"the server got {h.count('/p', 'POST')} POSTs, cicada counted {posts}"
    # every second POST goes out on the reused connection and is dropped
    assert errors(run, "/p") == {REMOTE_DISCONNECTED: 14}, run.csv["failures"]
    # GETs are retried on a fresh connection: all succeed, each dropped one
    # reached the server twice
    assert run.count("/g") == 30 and run.failures("/g") == 0, run.csv["failures"]
    assert h.count("/g") > 30


# ---------------------------------------------------------------- item 3


def websocket_upgrade(conn, method, nth):
    """Switch protocols, greet in WebSocket, and close with a protocol error
    (1002) on anything that comes next, as a WebSocket server would."""
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\x81\x05hello")
    try:
        if conn.recv(65536):
            conn.sendall(b"\x88\x02\x03\xea")
    except OSError:
        pass
    return False


@pytest.mark.time_limit(60)
def test_switching_protocols_ends_the_connection(tmp_path, hostile, run_cicada):
    h = hostile({"/ws": websocket_upgrade})
    run = run_users(run_cicada, tmp_path, """
  for i = 1, 10 do self.client:get("/ws", { timeout = 3 }) end
""", h.url, users=2, run_time="3s")
    assert run.count("/ws") == 20, run.output
    assert run.failures("/ws") == 0, run.csv["failures"]
    assert h.count("/ws") == 20, f"the server saw {h.count('/ws')} upgrades"


# ---------------------------------------------------------------- item 4


def chunked_stream(total):
    """A chunked body of `total` bytes in 1 MiB chunks (stops if the client
    goes away)."""
    def route(conn, method, nth):
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            block = b"%x\r\n" % MiB + b"z" * MiB + b"\r\n"
            for _ in range(total // MiB):
                conn.sendall(block)
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            return False
        return True
    return route


def cap_error(limit):
    return (f"ResponseTooLarge('response body over max_body_size ({limit} bytes); "
            f"raise max_body_size to accept it')")


@pytest.mark.time_limit(90)
def test_default_body_cap(tmp_path, hostile, spawn_cicada):
    """A 100 MiB chunked body is cut at the default cap of 64 MiB with a clear
    error, and memory stays near the cap; a 100 MiB Content-Length fails as
    soon as its headers arrive."""
    big_len = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (100 * MiB)

    def promised(conn, method, nth):
        conn.sendall(big_len + b"z" * MiB)
        return False

    h = hostile({"/huge": chunked_stream(100 * MiB), "/promised": promised})
    proc, finish = run_users(spawn_cicada, tmp_path, """
  for i = 1, 2 do self.client:get("/huge", { timeout = 10 }) end
  self.client:get("/promised", { timeout = 10 })
""", h.url, run_time="4s", spawn=True)
    run, hwm = watch_hwm(proc, finish)
    print(f"peak RSS: {hwm} kB")
    assert run.count("/huge") == 2 == h.count("/huge"), run.output
    assert errors(run, "/huge") == {cap_error(64 * MiB): 2}, run.csv["failures"]
    assert errors(run, "/promised") == {cap_error(64 * MiB): 1}, run.csv["failures"]
    assert hwm < 200 * 1024, f"peak RSS {hwm} kB for one user under a 64 MiB cap"


@pytest.mark.time_limit(90)
def test_class_body_cap_bounds_memory(tmp_path, hostile, spawn_cicada):
    """4 users of a class with max_body_size = 4 MiB fetch 100 MiB bodies:
    each fails at 4 MiB with the cap error and the process stays small (it
    held about 622 MB before the cap)."""
    h = hostile({"/huge": chunked_stream(100 * MiB)})
    proc, finish = run_users(spawn_cicada, tmp_path, """
  for i = 1, 3 do self.client:get("/huge", { timeout = 10 }) end
""", h.url, users=4, run_time="4s", cls=", max_body_size = 4 * 1024 * 1024",
                             spawn=True)
    run, hwm = watch_hwm(proc, finish)
    print(f"peak RSS: {hwm} kB")
    assert run.count("/huge") == 12 == h.count("/huge"), run.output
    assert errors(run, "/huge") == {cap_error(4 * MiB): 12}, run.csv["failures"]
    assert hwm < 120 * 1024, f"peak RSS {hwm} kB for 4 users under a 4 MiB cap"


@pytest.mark.time_limit(90)
def test_buffers_shrink_after_big_responses(tmp_path, hostile, spawn_cicada):
    """One user fetches a 40 MiB body (keep-alive, Content-Length) from 8
    origins in turn: each connection stays open, but its buffer shrinks back
    after the response, so the peak is about one body, not eight."""
    body = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (40 * MiB) + b"b" * (40 * MiB)

    def big(conn, method, nth):
        conn.sendall(body)
        return True

    h = hostile({"/big": big}, nports=8)
    urls = ", ".join(f'"http://127.0.0.1:{p}/big"' for p in h.ports)
    marker = tmp_path / "done"
    proc, finish = run_users(spawn_cicada, tmp_path, f"""
  for _, u in ipairs({{ {urls} }}) do
    local r = self.client:get(u, {{ name = "big", timeout = 10 }})
    assert(#r.text == 40 * 1024 * 1024, r.error)
    r = nil
    collectgarbage()
  end
  io.open("{marker}", "w"):close()
""", h.url, run_time="5s", spawn=True)
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    open_then = h.open
    run, hwm = watch_hwm(proc, finish)
    print(f"peak RSS: {hwm} kB")
    assert run.count("big") == 8 and run.failures("big") == 0, run.output
    assert open_then == 8, f"the 8 connections should be kept alive, {open_then} are open"
    assert hwm < 200 * 1024, f"peak RSS {hwm} kB: the connections kept their 40 MiB buffers"


_bomb = []


def gzip_bomb():
    """256 MiB of zeros, gzipped (about 250 KiB), made once."""
    if not _bomb:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        zero = bytes(MiB)
        _bomb.append(b"".join([c.compress(zero) for _ in range(256)] + [c.flush()]))
    return _bomb[0]


@pytest.mark.time_limit(60)
def test_gzip_bomb_stops_at_the_cap(tmp_path, hostile, run_cicada):
    bomb = gzip_bomb()

    def route(conn, method, nth):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(bomb) + bomb)
        return True

    h = hostile({"/bomb": route, "/ok": keep_alive_ok})
    out = tmp_path / "out.txt"
    run = run_users(run_cicada, tmp_path, f"""
  local r = self.client:get("/bomb", {{ headers = {{ ["Accept-Encoding"] = "gzip" }}, timeout = 10 }})
  local f = io.open("{out}", "w")
  f:write(tostring(r.ok), " ", #r.text, " ", string.format("%.3f", r.elapsed), "\\n")
  r = self.client:get("/ok")
  f:write(tostring(r.ok), " ", r.text, "\\n")
  f:close()
""", h.url, run_time="3s")
    lines = out.read_text().splitlines() if out.exists() else []
    assert len(lines) == 2, f"the user did not get through its requests: {lines}\n{run.output}"
    print(f"bomb: ok, decoded bytes, elapsed s: {lines[0]}")
    ok, size, elapsed = lines[0].split()
    assert ok == "false" and float(elapsed) < 2, lines
    assert errors(run, "/bomb") == {cap_error(64 * MiB): 1}, run.csv["failures"]
    assert lines[1] == "true ok", lines
    assert run.count("/bomb") == 1 == h.count("/bomb")


@pytest.mark.time_limit(60)
def test_idle_connections_per_user_are_bounded(tmp_path, hostile, spawn_cicada):
    """One user visits 100 origins: it keeps the 16 it used last open, not
    100 (the server sees the others closed)."""
    h = hostile({"/": keep_alive_ok}, nports=100)
    marker = tmp_path / "visited"
    urls = ", ".join(f'"http://127.0.0.1:{p}/"' for p in h.ports)
    proc, finish = run_users(spawn_cicada, tmp_path, f"""
  for _, u in ipairs({{ {urls} }}) do self.client:get(u, {{ name = "origin" }}) end
  self.client:get("{h.url}/", {{ name = "again" }})
  io.open("{marker}", "w"):close()
""", h.url, run_time="5s", spawn=True)
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the user did not finish its 100 requests"
    deadline = time.monotonic() + 3
    while h.open > 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    open_now = h.open
    fds = [Path(f"/proc/{proc.pid}/fd/{fd}") for fd in Path(f"/proc/{proc.pid}/fd").iterdir()]
    sockets = sum(1 for p in fds if re.match(r"socket:", str(p.readlink()) if p.exists() else ""))
    run = finish(timeout=15)
    assert run.count("origin") == 100 and run.failures("origin") == 0, run.output
    assert open_now <= 16, f"{open_now} connections still open on the server"
    assert sockets <= 16, f"cicada holds {sockets} sockets"
    # the first origin was evicted and visited again: a new connection
    assert sum(h.counts.values()) == 101


@pytest.mark.time_limit(60)
def test_bad_max_body_size_is_named(tmp_path, hostile, run_cicada):
    """A bad class field stops the load with file:line and the field's
    range; a bad request option is an exception of the task that says so."""
    h = hostile({"/": keep_alive_ok})
    run = run_users(run_cicada, tmp_path, "", h.url, cls=", max_body_size = -5")
    assert run.returncode != 0
    assert ("hostile.lua:1: max_body_size must be a whole number of bytes from 1 to 2147483392 "
            "(2 GiB), got -5") in run.stderr, run.output
    run = run_users(run_cicada, tmp_path, """
  local ok, err = pcall(function() self.client:get("/", { max_body_size = "big" }) end)
  assert(not ok and err:find("request option: max_body_size must be .* got big$"), err)
  self.client:get("/", { max_body_size = 1.5 })
""", h.url, run_time="1s")
    msgs = [r["Message"] for r in run.csv["exceptions"]]
    assert len(msgs) == 1 and msgs[0].endswith(
        "hostile.lua:6: request option: max_body_size must be a whole number of bytes from 1 to "
        "2147483392 (2 GiB), got 1.5"), run.csv["exceptions"]
    assert h.count("/") == 0
