"""cicada's web API has Locust 2.12.1's routes and JSON field names.

One real nginx, one cicada with its web UI and one real /usr/bin/locust
with its web UI (an equivalent locustfile) run for the whole module. The
fixture POSTs /swarm to both and waits until both have request rows,
error rows and exceptions; the tests then GET the same route from both
and compare key sets: cicada may have extra keys (it has "percentiles",
"time", "host", "workers"), never fewer. The WebSocket at /ws is read with
a raw-socket client (the stdlib has none): it must deliver the
/stats/requests document about once a second.

The HTML report's rendering (offline, charts drawn) is checked in Chromium
by tests/web/ui.test.mjs.
"""

import base64
import csv
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import CICADA, LOCUST, Nginx, free_port, stop_process, wait_port

LOCUSTFILE = """\
from locust import HttpUser, task, constant

class Browse(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def a(self):
        self.client.get("/a")

    @task(2)
    def missing(self):
        self.client.get("/status404")

    @task(1)
    def boom(self):
        raise ValueError("boom")
"""

SCENARIO = """\
Browse = cicada.user { wait_time = cicada.constant(0.05) }
Browse:task(3, function(self) self.client:get("/a") end)
Browse:task(2, function(self) self.client:get("/status404") end)
Browse:task(1, function(self) error("boom") end)
"""

pytestmark = pytest.mark.time_limit(60)


# ---------------------------------------------------------------- helpers


def http(base, route, data=None, timeout=10):
    """(status, headers, body bytes) of GET (or POST form `data`) base+route."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(base + route, data=body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(base, route, data=None):
    status, _, body = http(base, route, data)
    assert status == 200, f"{base}{route}: HTTP {status}: {body[:300]!r}"
    return json.loads(body)


def missing_keys(locust_obj, cicada_obj, where):
    """Locust's keys that cicada lacks, as a readable message (or "")."""
    lost = sorted(set(locust_obj) - set(cicada_obj))
    return f"{where}: cicada lacks {lost} (cicada has {sorted(cicada_obj)})" if lost else ""


def assert_superset(locust_obj, cicada_obj, where):
    msg = missing_keys(locust_obj, cicada_obj, where)
    assert not msg, msg


class Ui:
    """A process with a web UI on 127.0.0.1:port."""

    def __init__(self, name, proc, port, log):
        self.name, self.proc, self.port, self.log = name, proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self):
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def start_ui(name, cmd, cwd, port):
    log = cwd / f"{name}.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT)
    ui = Ui(name, proc, port, log)
    try:
        wait_port(port, 20, proc)
    except AssertionError as e:
        stop_process(proc)
        raise AssertionError(f"{name}: {e}\n{ui.output()}")
    return ui


def wait_until(fn, what, timeout=20.0, every=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """nginx, cicada and locust; both swarming with 2 users once it yields."""
    d = tmp_path_factory.mktemp("web_api")
    ng = Nginx(d / "nginx")
    ng.dir.mkdir()
    ng.start()
    procs = []
    try:
        (d / "scenario.lua").write_text(SCENARIO)
        (d / "locustfile.py").write_text(LOCUSTFILE)
        cport, lport = free_port(), free_port()
        cic = start_ui("cicada", [str(CICADA), "-f", "scenario.lua", "-H", ng.url,
                                  "--web-host", "127.0.0.1", "--web-port", str(cport)], d, cport)
        procs.append(cic)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("LOCUST_HOST", None)
        with open(d / "locust.log", "wb") as f:
            lproc = subprocess.Popen([LOCUST, "-f", "locustfile.py", "--host", ng.url,
                                      "--web-host", "127.0.0.1", "--web-port", str(lport)],
                                     cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT)
        loc = Ui("locust", lproc, lport, d / "locust.log")
        procs.append(loc)
        wait_port(lport, 30, lproc)

        out = {"cicada": cic, "locust": loc, "nginx": ng, "dir": d}
        # Before any swarm: an invalid run_time is refused, in both.
        out["ready"] = {u.name: get_json(u.url, "/stats/requests") for u in (cic, loc)}
        out["bad_swarm"] = {u.name: get_json(u.url, "/swarm", {"user_count": 2, "spawn_rate": 10,
                                                               "run_time": "soon"})
                            for u in (cic, loc)}
        out["swarm"] = {u.name: get_json(u.url, "/swarm", {"user_count": 2, "spawn_rate": 10,
                                                           "host": ng.url, "run_time": "50s"})
                        for u in (cic, loc)}

        def ready(u):
            j = get_json(u.url, "/stats/requests")
            names = {s["name"] for s in j["stats"]}
            ex = get_json(u.url, "/exceptions")["exceptions"]
            return ({"/a", "/status404"} <= names and j["errors"] and ex and j["user_count"] == 2
                    and j["state"] == "running")

        for u in (cic, loc):
            try:
                wait_until(lambda: ready(u), f"{u.name} to have rows, errors and exceptions")
            except AssertionError as e:
                raise AssertionError(f"{e}\n{u.output()}")
        yield out
    finally:
        for p in procs:
            stop_process(p.proc, timeout=10)
        ng.stop()


def both(pair, route):
    return get_json(pair["cicada"].url, route), get_json(pair["locust"].url, route)


# ---------------------------------------------------------------- /swarm


def test_swarm_response_fields(pair):
    c, loc = pair["swarm"]["cicada"], pair["swarm"]["locust"]
    assert_superset(loc, c, "/swarm response")
    assert loc["success"] is True and c["success"] is True
    assert c["message"] == loc["message"] == "Swarming started"
    assert c["host"] == loc["host"] == pair["nginx"].url
    assert c["run_time"] == loc["run_time"] == 50


def test_swarm_invalid_run_time(pair):
    c, loc = pair["bad_swarm"]["cicada"], pair["bad_swarm"]["locust"]
    assert_superset(loc, c, "/swarm response to a bad run_time")
    assert c["success"] is False and loc["success"] is False
    assert c["message"] == loc["message"]


# ---------------------------------------------------------------- /stats/requests


def check_stats_doc(loc, c, where):
    """All of Locust's keys, at the top, in each stats row and each error row."""
    problems = [missing_keys(loc, c, f"{where} top level")]
    assert c["stats"] and loc["stats"], f"{where}: no stats rows"
    lrow = loc["stats"][0]
    for row in c["stats"]:
        problems.append(missing_keys(lrow, row, f"{where} stats row {row.get('name')!r}"))
    if loc["errors"]:
        lerr = loc["errors"][0]
        assert c["errors"], f"{where}: locust has error rows, cicada none"
        for row in c["errors"]:
            problems.append(missing_keys(lerr, row, f"{where} error row {row.get('name')!r}"))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


def test_stats_requests_fields(pair):
    c, loc = both(pair, "/stats/requests")
    check_stats_doc(loc, c, "/stats/requests")
    # same rows for the same scenario, Aggregated last
    assert {(s["method"], s["name"]) for s in c["stats"][:-1]} == \
        {(s["method"], s["name"]) for s in loc["stats"][:-1]}
    assert c["stats"][-1]["name"] == loc["stats"][-1]["name"] == "Aggregated"
    assert {(e["method"], e["name"]) for e in c["errors"]} == \
        {(e["method"], e["name"]) for e in loc["errors"]}
    assert c["state"] == loc["state"] == "running"
    assert c["user_count"] == loc["user_count"] == 2
    # the types of the fields, as JSON sees them
    for k in ("num_requests", "num_failures"):
        assert isinstance(c["stats"][0][k], int), k
    assert isinstance(c["errors"][0]["occurrences"], int)


def test_stats_requests_fields_before_a_test(pair):
    c, loc = pair["ready"]["cicada"], pair["ready"]["locust"]
    check_stats_doc(loc, c, "/stats/requests before a test")
    assert c["state"] == loc["state"] == "ready"
    assert [s["name"] for s in c["stats"]] == [s["name"] for s in loc["stats"]] == ["Aggregated"]


# ---------------------------------------------------------------- /exceptions, /tasks


def test_exceptions_fields(pair):
    c, loc = both(pair, "/exceptions")
    assert_superset(loc, c, "/exceptions top level")
    assert c["exceptions"] and loc["exceptions"]
    lrow = loc["exceptions"][0]
    for row in c["exceptions"]:
        assert_superset(lrow, row, "/exceptions row")
        assert "boom" in row["msg"]
        assert isinstance(row["count"], int) and row["count"] > 0


def test_tasks_fields(pair):
    c, loc = both(pair, "/tasks")
    assert_superset(loc, c, "/tasks top level")
    for part in ("per_class", "total"):
        assert set(c[part]) == set(loc[part]) == {"Browse"}, part
        lc, cc = loc[part]["Browse"], c[part]["Browse"]
        assert_superset(lc, cc, f"/tasks {part}.Browse")
        assert cc["ratio"] == pytest.approx(lc["ratio"])
        assert len(cc["tasks"]) == len(lc["tasks"]) == 3
        ltask = next(iter(lc["tasks"].values()))
        for name, t in cc["tasks"].items():
            assert_superset(ltask, t, f"/tasks {part}.Browse.tasks[{name!r}]")
        # task names differ (Python function names, Lua file:line); ratios agree
        assert sorted(t["ratio"] for t in cc["tasks"].values()) == \
            pytest.approx(sorted(t["ratio"] for t in lc["tasks"].values()))


# ---------------------------------------------------------------- CSV and report routes


def csv_download(base, route):
    status, headers, body = http(base, route)
    assert status == 200, f"{route}: HTTP {status}"
    text = body.decode("utf-8")
    return headers, text, list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("route,prefix", [("/stats/requests/csv", "requests"),
                                          ("/stats/failures/csv", "failures"),
                                          ("/exceptions/csv", "exceptions")])
def test_csv_routes_have_locusts_format(pair, route, prefix):
    ch, ctext, crows = csv_download(pair["cicada"].url, route)
    lh, ltext, lrows = csv_download(pair["locust"].url, route)
    assert ch["Content-Type"].split(";")[0] == lh["Content-Type"].split(";")[0] == "text/csv"
    pat = rf"^attachment;filename={prefix}_\d+(\.\d+)?\.csv$"
    assert re.match(pat, lh["Content-Disposition"]), lh["Content-Disposition"]
    assert re.match(pat, ch["Content-Disposition"]), ch["Content-Disposition"]
    # the header line byte for byte, with its line end
    assert ctext.splitlines(keepends=True)[0] == ltext.splitlines(keepends=True)[0]
    assert len(crows) > 1 and len(lrows) > 1, "rows after the header"
    for row in crows[1:]:
        assert len(row) == len(crows[0]), f"{route}: {row}"
    if prefix == "requests":
        assert [r[:2] for r in crows[1:]] != [] and crows[-1][:2] == lrows[-1][:2] == ["", "Aggregated"]
        assert sorted(tuple(r[:2]) for r in crows[1:]) == sorted(tuple(r[:2]) for r in lrows[1:])


def test_stats_requests_csv_agrees_with_json(pair):
    base = pair["cicada"].url
    # While running, the numbers move: take the JSON right before and after
    # the CSV and check each row's count lies between them.
    before = get_json(base, "/stats/requests")
    _, _, rows = csv_download(base, "/stats/requests/csv")
    after = get_json(base, "/stats/requests")
    lo = {(s["method"] or "", s["name"]): s["num_requests"] for s in before["stats"]}
    hi = {(s["method"] or "", s["name"]): s["num_requests"] for s in after["stats"]}
    head = rows[0]
    for r in rows[1:]:
        row = dict(zip(head, r))
        key = (row["Type"], row["Name"])
        assert key in hi, f"CSV row {key} not in /stats/requests"
        assert lo.get(key, 0) <= int(row["Request Count"]) <= hi[key], key


def test_full_history_csv_absent_like_locust(pair):
    cs, _, cb = http(pair["cicada"].url, "/stats/requests_full_history/csv")
    ls, _, lb = http(pair["locust"].url, "/stats/requests_full_history/csv")
    assert cs == ls == 404
    assert cb == lb


def test_report_route(pair):
    for u in (pair["cicada"], pair["locust"]):
        status, headers, body = http(u.url, "/stats/report")
        assert status == 200, u.name
        assert headers["Content-Type"].startswith("text/html"), u.name
        assert "Content-Disposition" not in headers, u.name
        html = body.decode("utf-8")
        assert "?download=1" in html, f"{u.name}: the report links its download"
        status, headers, body = http(u.url, "/stats/report?download=1")
        assert status == 200
        assert re.match(r"^attachment;filename=report_\d+(\.\d+)?\.html$",
                        headers["Content-Disposition"]), (u.name, headers["Content-Disposition"])
    # cicada's is self-contained: no external script or stylesheet
    html = http(pair["cicada"].url, "/stats/report?download=1")[2].decode("utf-8")
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+stylesheet", html)
    assert "/a" in html and "Aggregated" in html


# ---------------------------------------------------------------- WebSocket


class WsClient:
    """The least a WebSocket client needs (RFC 6455): the handshake, then
    reading text frames (reassembling fragments) and answering pings. The
    server's frames are unmasked; ours (pong, close) are masked."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, port, path="/ws", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed during the WebSocket handshake"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split(" ")[1] == "101", f"handshake refused: {lines[0]}"
        hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        want = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == want, hdrs

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def message(self):
        """The next text message (str)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            assert not b1 & 0x80, "a server frame must not be masked"
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            if opcode == 0x9:  # ping
                self._send(0xA, payload)
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode == 0x8:
                raise ConnectionError("server closed the WebSocket")
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    def close(self):
        try:
            self._send(0x8, (1000).to_bytes(2, "big"))
        except OSError:
            pass
        self.sock.close()


def test_websocket_pushes_stats_every_second(pair):
    keys = set(get_json(pair["cicada"].url, "/stats/requests"))
    ref = get_json(pair["locust"].url, "/stats/requests")
    ws = WsClient(pair["cicada"].port)
    msgs = []
    try:
        end = time.monotonic() + 4.2
        while time.monotonic() < end:
            ws.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                msgs.append(ws.message())
            except socket.timeout:
                break
    finally:
        ws.close()
    # one right away, then one a second
    assert len(msgs) >= 3, f"{len(msgs)} WebSocket messages in 4.2 s"
    docs = [json.loads(m) for m in msgs]
    for i, d in enumerate(docs):
        assert set(d) == keys, f"message {i} keys differ from GET /stats/requests: {sorted(set(d) ^ keys)}"
        check_stats_doc(ref, d, f"WebSocket message {i}")
        assert d["state"] == "running"
    counts = [d["stats"][-1]["num_requests"] for d in docs]
    assert counts == sorted(counts) and counts[-1] > counts[0], f"the counts grow: {counts}"
    times = [d["time"] for d in docs]
    assert times == sorted(times) and len(set(times)) == len(times), f"a new document each time: {times}"


# ---------------------------------------------------------------- reset and stop (last)


def test_reset(pair):
    for u in (pair["cicada"], pair["locust"]):
        status, _, body = http(u.url, "/stats/reset")
        assert (status, body) == (200, b"ok"), u.name
    c = get_json(pair["cicada"].url, "/exceptions")
    assert c["exceptions"] == [] or all(e["count"] < 50 for e in c["exceptions"])


def test_stop_fields(pair):
    c, loc = both(pair, "/stop")
    assert_superset(loc, c, "/stop")
    assert c == loc == {"success": True, "message": "Test stopped"}
    for u in (pair["cicada"], pair["locust"]):
        wait_until(lambda: get_json(u.url, "/stats/requests")["state"] == "stopped",
                   f"{u.name} to be stopped", timeout=10)
