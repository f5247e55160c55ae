"""The web UI under many viewers, slow readers and hostile input (issue 10,
items 1-4).

- 1,000 WebSocket viewers, 10 of which stop reading, while a run goes on:
  every HTTP route answers within 1 s and a reading viewer gets at least
  8 pushes in 10 s. Before (civetweb, one thread per connection, 32
  threads) the 32nd viewer froze every route.
- Slowloris: 300 connections that send half a request head and then
  trickle or nothing leave the UI answering at once, and are cut after
  the head timeout (10 s). Before, they held every thread.
- Cross-site requests: a state change (/swarm, /stop, /stats/reset) whose
  Origin, Referer or Sec-Fetch-Site says it comes from another site is
  refused with 403, a body that is not a form or JSON with 415, and a
  browser's GET /stop with 405; scripts (no such headers) keep Locust's
  API. Before, any page could POST /swarm.
"""

import asyncio
import json
import resource
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import CICADA, free_port, stop_process, wait_port, write_scenario

ROUTES = ["/", "/stats/requests", "/stats/requests/csv", "/stats/failures/csv",
          "/stats/history", "/stats/report", "/exceptions", "/exceptions/csv", "/tasks",
          "/app.js"]

SCENARIO = """\
U = cicada.user {{ host = "{url}", wait_time = cicada.constant(0.05) }}
U:task(1, function(self) self.client:get("/") end)
U:task(1, function(self) self.client:get("/missing") end)
"""


def raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def request(port, method, route, headers=None, body=None, timeout=5):
    """(status, headers dict, body bytes) of one request on its own connection."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Ui:
    """cicada running a load test against nginx, with its web UI."""

    def __init__(self, tmp_path, target_url, users=5):
        self.port = free_port()
        scenario = write_scenario(tmp_path, SCENARIO.format(url=target_url))
        self.log = open(tmp_path / "cicada.log", "wb")
        self.proc = subprocess.Popen(
            [str(CICADA), "-f", str(scenario), "--web-host", "127.0.0.1", "--web-port",
             str(self.port), "-u", str(users), "-r", str(users), "--autostart"],
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, 20, self.proc)
            # every user made, and the runner says so (it reports "running"
            # once the engines have created them, a moment after the count)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                s = self.stats()
                if s["user_count"] == users and s["state"] == "running":
                    break
                time.sleep(0.1)
        except AssertionError:
            self.stop()
            raise

    def stats(self):
        return json.loads(request(self.port, "GET", "/stats/requests")[2])

    def stop(self):
        stop_process(self.proc, timeout=10)
        self.log.close()


@pytest.fixture
def ui(tmp_path, nginx):
    u = Ui(tmp_path, nginx.url)
    yield u
    u.stop()


def probe_routes(port, seconds, out):
    """GET every route in turn for `seconds`; append (route, status, latency)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for route in ROUTES:
            t0 = time.monotonic()
            try:
                status = request(port, "GET", route, timeout=5)[0]
            except OSError as e:
                status = repr(e)
            out.append((route, status, time.monotonic() - t0))


def stalled_viewer(port):
    """A viewer that completes the handshake and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n")
    return s


@pytest.mark.time_limit(120)
def test_thousand_viewers_ten_stalled(ui):
    import websockets.client

    assert raise_nofile() >= 2500, "the test needs ~1,100 descriptors"
    n_viewers = 1000
    stalled = [stalled_viewer(ui.port) for _ in range(10)]
    counts = [0] * n_viewers
    probes = []

    async def viewer(i, opened, measure_from):
        async with websockets.client.connect(f"ws://127.0.0.1:{ui.port}/ws", open_timeout=30,
                                             ping_interval=None, max_size=2**24) as ws:
            opened.append(i)
            async for _ in ws:
                if time.monotonic() >= measure_from[0]:
                    counts[i] += 1

    async def main():
        opened = []
        measure_from = [float("inf")]
        tasks = []
        for i in range(n_viewers):
            tasks.append(asyncio.create_task(viewer(i, opened, measure_from)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        t0 = time.monotonic()
        while len(opened) < n_viewers and time.monotonic() - t0 < 60:
            failed = [t for t in tasks if t.done() and t.exception()]
            assert not failed, failed[0].exception()
            await asyncio.sleep(0.2)
        assert len(opened) == n_viewers, f"only {len(opened)} viewers connected"
        # every route, while 1,000 viewers are pushed to and 10 do not read
        prober = threading.Thread(target=probe_routes, args=(ui.port, 10, probes))
        measure_from[0] = time.monotonic()
        prober.start()
        await asyncio.sleep(10)
        got = list(counts)
        while prober.is_alive():
            await asyncio.sleep(0.1)
        failed = [t for t in tasks if t.done() and t.exception()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return got, failed

    got, failed = asyncio.run(main())
    for s in stalled:
        s.close()
    assert not failed, failed[0].exception()
    worst = max(p[2] for p in probes)
    lat = sorted(p[2] for p in probes)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"{len(probes)} route requests, p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms; "
          f"pushes per viewer in 10 s: min {min(got)}, max {max(got)}")
    bad = [p for p in probes if p[1] != 200 or p[2] >= 1.0]
    assert not bad, bad[:10]
    assert {p[0] for p in probes} == set(ROUTES)
    slow = [c for c in got if c < 8]
    assert not slow, f"{len(slow)} reading viewers got under 8 pushes in 10 s: {sorted(got)[:10]}"
    assert ui.stats()["state"] == "running"


@pytest.mark.time_limit(60)
def test_slowloris(ui):
    assert raise_nofile() >= 1000
    holders = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", ui.port), timeout=5)
        s.sendall(b"GET /stats/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        holders.append(s)
    t_open = time.monotonic()
    # the UI answers at once, throughout
    latencies = []
    while time.monotonic() - t_open < 6:
        t0 = time.monotonic()
        status = request(ui.port, "GET", "/stats/requests", timeout=5)[0]
        latencies.append(time.monotonic() - t0)
        assert status == 200
        # a slow trickle does not extend a connection's time
        for s in holders[:20]:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(0.3)
    print(f"{len(latencies)} requests during the slowloris, max {max(latencies) * 1000:.1f} ms")
    assert max(latencies) < 1.0, latencies
    # and every half-open connection is cut within the head timeout (10 s)
    closed = 0
    for s in holders:
        s.settimeout(max(0.1, t_open + 15 - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            closed += 1
        except ConnectionResetError:
            closed += 1
        except OSError:
            pass
        s.close()
    print(f"cut after {time.monotonic() - t_open:.1f} s: {closed} of {len(holders)}")
    assert closed == len(holders)
    assert request(ui.port, "GET", "/stats/requests")[0] == 200


FORM = b"user_count=3&spawn_rate=3&host=http%3A%2F%2F127.0.0.1%3A1"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def swarm(ui, extra, body=FORM):
    headers = dict(FORM_TYPE)
    headers.update(extra)
    status, _, raw = request(ui.port, "POST", "/swarm", headers, body)
    return status, raw


@pytest.mark.time_limit(60)
def test_cross_site_state_changes_refused(ui):
    own = f"http://127.0.0.1:{ui.port}"
    before = ui.stats()["user_count"]
    for extra in ({"Origin": "http://evil.example"},
                  {"Origin": "null"},
                  {"Origin": f"https://127.0.0.1:{ui.port}"},
                  {"Referer": "http://evil.example/page"},
                  {"Referer": f"http://127.0.0.1:{ui.port}.evil.example/"},
                  {"Sec-Fetch-Site": "cross-site"},
                  {"Sec-Fetch-Site": "same-site", "Origin": own},
                  # DNS rebinding: evil.example resolved to 127.0.0.1
                  {"Host": f"evil.example:{ui.port}", "Origin": f"http://evil.example:{ui.port}"}):
        status, raw = swarm(ui, extra)
        assert status == 403, (extra, status, raw)
        reply = json.loads(raw)
        assert reply["success"] is False and "cross-site" in reply["message"], reply
        for route in ("/stop", "/stats/reset"):
            status, _, raw = request(ui.port, "POST", route, {**FORM_TYPE, **extra}, b"")
            assert status == 403, (route, extra, status, raw)
    # a browser's GET (an <img>, a link) never changes anything
    for route in ("/stop", "/stats/reset"):
        status, headers, _ = request(ui.port, "GET", route, {"Referer": own + "/"})
        assert status == 405 and headers.get("Allow") == "POST", (route, status)
    # the body must be a form or JSON
    status, raw = swarm(ui, {"Content-Type": "text/plain", "Origin": own})
    assert status == 415, raw
    time.sleep(1.5)
    assert ui.stats()["user_count"] == before, "a refused request changed the run"
    assert ui.stats()["host"] != "http://127.0.0.1:1"

    # /ws from another site's page is refused too
    s = socket.create_connection(("127.0.0.1", ui.port), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n"
              b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
              % ui.port)
    assert s.recv(4096).startswith(b"HTTP/1.1 403 ")
    s.close()


@pytest.mark.time_limit(60)
def test_same_origin_and_scripts_allowed(ui):
    own = f"http://127.0.0.1:{ui.port}"
    # the UI's own page: Origin and Sec-Fetch-Site as Chromium sends them
    status, raw = swarm(ui, {"Origin": own, "Sec-Fetch-Site": "same-origin",
                             "Referer": own + "/"})
    assert status == 200 and json.loads(raw)["success"] is True, raw
    status, raw = swarm(ui, {"Origin": "http://LOCALHOST:%d" % ui.port,
                             "Host": "localhost:%d" % ui.port})
    assert status == 200, raw
    status, _, raw = request(ui.port, "POST", "/stats/reset", {"Origin": own}, b"")
    assert status == 200, raw
    # a script (curl, requests, Locust-style tools): no browser headers
    status, raw = swarm(ui, {})
    assert status == 200, raw
    status, _, raw = request(ui.port, "POST", "/swarm", {"Content-Type": "application/json"},
                             json.dumps({"user_count": 2, "spawn_rate": 2}).encode())
    assert status == 200 and json.loads(raw)["success"] is True, raw
    deadline = time.monotonic() + 10
    while ui.stats()["user_count"] != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ui.stats()["user_count"] == 2
    assert request(ui.port, "GET", "/stop")[0] == 200  # Locust's GET, from a script


@pytest.mark.time_limit(60)
def test_viewer_that_pings_and_talks_stays(ui):
    """A viewer may ping (browsers' libraries and Python's do) and send
    messages: it gets pongs and pushes, and a clean close."""
    import websockets.client

    async def main():
        async with websockets.client.connect(f"ws://127.0.0.1:{ui.port}/ws",
                                             ping_interval=0.3, ping_timeout=2) as ws:
            await ws.send("hello")  # ignored, not an error
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            pong = await ws.ping(b"x")
            await asyncio.wait_for(pong, 5)
            n, end = 0, time.monotonic() + 3.5
            while time.monotonic() < end:
                await asyncio.wait_for(ws.recv(), 3)
                n += 1
            await ws.close()
            return first, n, ws.close_code

    first, n, code = asyncio.run(main())
    assert first["state"] == "running" and first["stats"], first
    assert n >= 2, n
    assert code in (1000, 1005, 1006), code
