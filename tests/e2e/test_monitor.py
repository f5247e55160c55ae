"""--monitor: the targets' resources from node_exporter, beside the load.

A real node_exporter (Debian's prometheus-node-exporter) on a free loopback
port, started by the test and stopped by its PID; CPU burners (Python busy
loops, one per core) started mid-run; fake exporters in Python that answer
garbage or 50 MB. What is checked: PREFIX_monitor.csv's exact header and one
row per target per interval, the CPU % series rising while the burners run
and falling after (in the CSV and in /stats/monitor), gaps (empty cells) and
exactly one warning when the exporter dies, and that broken exporters never
crash cicada, keep its memory bounded and leave the load untouched (request
counts equal nginx's log).
"""

import csv
import http.server
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import CICADA, free_port, stop_process, wait_port, write_scenario

EXPORTER = "/usr/bin/prometheus-node-exporter"
HEADER = ("Timestamp,Target,CPU %,Busiest core %,Load 1m,Memory used %,"
          "Net rx B/s,Net tx B/s,Disk read B/s,Disk write B/s\n")

SCENARIO = """\
U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(1, function(self) self.client:get("/fast", { name = "fast" }) end)
"""

BURNER = "import time\nend = time.monotonic() + float(__import__('sys').argv[1])\n" \
         "while time.monotonic() < end: pass\n"


def start_exporter():
    port = free_port()
    proc = subprocess.Popen([EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 10, proc)
    except AssertionError:
        stop_process(proc)
        raise
    return proc, f"http://127.0.0.1:{port}/metrics"


def burners(seconds):
    """One busy loop per core, each ending by itself after `seconds`."""
    n = os.cpu_count() or 2
    return [subprocess.Popen([sys.executable, "-c", BURNER, str(seconds)],
                             stdin=subprocess.DEVNULL) for _ in range(n)]


def monitor_rows(prefix):
    data = open(f"{prefix}_monitor.csv", newline="").read()
    assert data.startswith(HEADER), data[:200]
    return data, list(csv.DictReader(io.StringIO(data, newline="")))


def cpu_by_time(rows, target):
    return [(int(r["Timestamp"]), float(r["CPU %"])) for r in rows
            if r["Target"] == target and r["CPU %"] != ""]


def assert_rise_and_fall(series, burn_start, burn_end, where):
    """While burning, the median CPU % is >= 20 points above the quietest
    second before, and some second after is >= 20 points below it again
    (1 s of slack at each edge). Quietest, not median: the machine is
    shared, and other processes may load it before or after; the burners
    alone fill every core while they run."""
    before = [c for t, c in series if t < burn_start - 1]
    during = [c for t, c in series if burn_start + 1 < t < burn_end - 1]
    after = [c for t, c in series if t > burn_end + 1]
    assert before and during and after, f"{where}: too few points {series}"
    b, d, a = min(before), statistics.median(during), min(after)
    assert d >= b + 20 and d >= a + 20, f"{where}: before {b}, during {d}, after {a}: {series}"


class UI:
    """cicada with its web UI, a test started at once, quitting at its end."""

    def __init__(self, tmp_path, args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(CICADA), "--web-host", "127.0.0.1", "--web-port", str(self.port), "--autostart",
             "--autoquit", "0", *[str(a) for a in args]],
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        wait_port(self.port, 10, self.proc)

    def get(self, route):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{route}", timeout=5) as r:
            return json.loads(r.read())


@pytest.mark.time_limit(90)
def test_cpu_burner_rises_and_falls(tmp_path, nginx):
    exporter, url = start_exporter()
    burn = []
    ui = None
    try:
        f = write_scenario(tmp_path, SCENARIO)
        ui = UI(tmp_path, ["-f", f, "-H", nginx.url, "-u", 2, "-r", 2, "-t", 16,
                           "--monitor", f"box={url}", "--csv", tmp_path / "out"])
        start = time.time()
        doc = None
        time.sleep(5)
        burn_start = time.time()
        burn = burners(5)
        for p in burn:
            p.wait(timeout=15)
        burn_end = time.time()
        while ui.proc.poll() is None and time.time() - start < 40:
            try:
                doc = ui.get("/stats/monitor")
            except OSError:
                break  # quitting
            time.sleep(0.5)
        out, err = ui.proc.communicate(timeout=30)
        assert ui.proc.returncode == 0, err
    finally:
        for p in burn:
            stop_process(p)
        if ui:
            stop_process(ui.proc)
        stop_process(exporter)
    # the CSV
    _, rows = monitor_rows(tmp_path / "out")
    assert {r["Target"] for r in rows} == {"box"}
    stamps = [int(r["Timestamp"]) for r in rows]
    assert len(stamps) >= 14 and len(set(stamps)) >= len(stamps) - 1  # one row per interval
    for r in rows[1:]:
        assert r["Memory used %"] != "" and 0 < float(r["Memory used %"]) < 100
        assert r["Load 1m"] != "" and r["Net rx B/s"] != ""
    assert_rise_and_fall(cpu_by_time(rows, "box"), burn_start, burn_end, "CSV")
    # /stats/monitor, as last read while the run went on
    assert doc is not None and doc["fields"][:2] == ["time", "cpu"]
    t = [x for x in doc["targets"] if x["name"] == "box"][0]
    assert t["url"] == url and t["up"] is True
    series = [(int(p[0]), p[1]) for p in t["points"] if p[1] is not None]
    assert_rise_and_fall(series, burn_start, burn_end, "/stats/monitor")
    # the console summary: one line for the target
    assert "Target resources" in out and [l for l in out.splitlines() if l.strip().startswith("box ")]


@pytest.mark.time_limit(60)
def test_exporter_killed_mid_run(tmp_path, nginx, run_cicada):
    exporter, url = start_exporter()
    f = write_scenario(tmp_path, SCENARIO)
    killer = threading.Timer(3.5, stop_process, [exporter])
    killer.start()
    try:
        run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", 2, "-r", 2, "-t", 8,
                          "--monitor", f"ne={url}", "--summary-json", tmp_path / "out.json"], timeout=30)
    finally:
        killer.cancel()
        stop_process(exporter)
    assert run.returncode == 0, run.output
    data, rows = monitor_rows(run.csv_prefix)
    ne = [r for r in rows if r["Target"] == "ne"]
    assert len(ne) >= 7, data
    full = [r for r in ne if r["Memory used %"] != ""]
    empty = [r for r in ne if all(r[k] == "" for k in r if k not in ("Timestamp", "Target"))]
    assert len(full) >= 2 and len(empty) >= 3, data
    assert ne.index(empty[0]) > ne.index(full[0])  # the gap comes after it worked
    warnings = [l for l in run.stderr.splitlines() if "WARNING" in l and "monitor: ne" in l]
    assert len(warnings) == 1, run.stderr
    # --summary-json holds the same series, the gap as points of nulls
    doc = json.loads((tmp_path / "out.json").read_text())["monitor"]
    (t,) = doc["targets"]
    assert t["name"] == "ne" and t["up"] is False and t["error"]
    assert len(t["points"]) == len(ne) and t["failed"] == len(empty)
    assert all(v is None for v in t["points"][-1][1:])
    assert run.count("fast") == nginx.count("/fast") > 0


class Fake(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for i in range(0, len(self.body), 1 << 20):
                self.wfile.write(self.body[i:i + (1 << 20)])
        except OSError:
            pass  # cicada cut it off

    def log_message(self, *a):
        pass


def fake_server(body):
    cls = type("F", (Fake,), {"body": body})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/metrics"


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as s:
        for line in s:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@pytest.mark.time_limit(60)
def test_garbage_and_huge_exporters(tmp_path, nginx, spawn_cicada):
    garbage, gurl = fake_server(b"<html><body>not metrics {{{\n" * 100)
    huge, hurl = fake_server(b"node_load1 1\n" + b"x" * (50 << 20))
    f = write_scenario(tmp_path, SCENARIO)
    try:
        proc, done = spawn_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", 2, "-r", 2,
                                   "-t", 6, "--monitor", f"junk={gurl}", "--monitor",
                                   f"huge={hurl}"])
        hwm = 0
        while proc.poll() is None:
            try:
                hwm = max(hwm, vm_hwm_kb(proc.pid))
            except OSError:
                break
            time.sleep(0.2)
        run = done(30)
    finally:
        garbage.shutdown()
        huge.shutdown()
    assert run.returncode == 0, run.output
    # the run itself takes about 8 MB; the 50 MB answer is cut at 4 MB, so the
    # peak stays far below what reading it whole would take (over 58 MB)
    assert 0 < hwm < 40 * 1024, f"VmHWM {hwm} kB"
    _, rows = monitor_rows(run.csv_prefix)
    for name in ("junk", "huge"):
        mine = [r for r in rows if r["Target"] == name]
        assert len(mine) >= 5
        assert all(r["CPU %"] == "" and r["Memory used %"] == "" for r in mine)
        warned = [l for l in run.stderr.splitlines() if f"monitor: {name} " in l]
        assert len(warned) == 1, run.stderr
    assert "not the Prometheus text format" in run.stderr
    assert "over 4 MB" in run.stderr
    assert run.count("fast") == nginx.count("/fast") > 0


def test_bad_monitor_values(run_cicada, tmp_path):
    f = write_scenario(tmp_path, SCENARIO)
    for arg, msg in ((["--monitor", "https://h:9100/metrics"], "https is not supported"),
                     (["--monitor", "bad name=http://h/"], "a target's name"),
                     (["--monitor", "ftp://h/"], "not an exporter URL"),
                     (["--monitor-interval", "0"], "--monitor-interval: invalid value")):
        run = run_cicada(["-f", f, "--headless", "-u", 1, "-t", 1, *arg], csv=False, timeout=10)
        assert run.returncode == 2 and msg in run.stderr, run.output


@pytest.mark.time_limit(60)
def test_swarm_form_sets_the_targets(tmp_path, nginx):
    """/swarm's `monitor` field (the start form and the Edit dialog): adds
    and removes targets; a bad one is a 400 naming the field."""
    junk, jurl = fake_server(b"junk\n")
    f = write_scenario(tmp_path, SCENARIO)
    ui = UI(tmp_path, ["-f", f, "-H", nginx.url, "-u", 1, "-r", 1])
    base = f"http://127.0.0.1:{ui.port}"

    def swarm(**fields):
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        req = urllib.request.Request(base + "/swarm", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        assert ui.get("/stats/monitor")["targets"] == []
        st, j = swarm(user_count=1, spawn_rate=1, monitor=[f"a={jurl}", f"b={jurl}"])
        assert st == 200 and j["success"], j
        act = {t["name"]: t["active"] for t in ui.get("/stats/monitor")["targets"]}
        assert act == {"a": True, "b": True}
        st, j = swarm(user_count=1, spawn_rate=1, monitor=f"b={jurl}\n")
        assert st == 200
        act = {t["name"]: t["active"] for t in ui.get("/stats/monitor")["targets"]}
        assert act == {"a": False, "b": True}
        st, j = swarm(user_count=1, spawn_rate=1, monitor="https://x:9100/metrics")
        assert st == 400 and "monitor" in j["message"] and "https" in j["message"], j
        st, j = swarm(user_count=1, spawn_rate=1)  # no field: unchanged
        act = {t["name"]: t["active"] for t in ui.get("/stats/monitor")["targets"]}
        assert st == 200 and act == {"a": False, "b": True}
        st, j = swarm(user_count=1, spawn_rate=1, monitor="")
        assert st == 200 and not any(t["active"] for t in ui.get("/stats/monitor")["targets"])
    finally:
        stop_process(ui.proc)
        junk.shutdown()
