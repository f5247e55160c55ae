"""The open model (issue 11): --arrival-rate starts iterations at a rate
whatever the target does, times each iteration's first request from its
scheduled start, and counts iterations that started late or were dropped.

- A target that stalls for 1 s every 3 s: the open model's p99 shows the
  stall, the closed model's (a few users) hides it (coordinated omission).
- Arrival counts against nginx (its access log is the truth), standalone
  and with a master and two workers, at 100/s and 2,000/s.
- Dropped iterations when -u is too small for a slow target; late ones
  when the engine's loop is saturated.
- Rates over time from the scenario (cicada.arrival with rate_ramp, and a
  rate per class).

Every process is started here, bounded by a timeout and stopped by its PID.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (CICADA, NGINX_CONF, Nginx, demo_server, free_port, stop_process, wait_port,
                      write_scenario)

HERE = Path(__file__).resolve().parent

OPEN_LINE = re.compile(r"Open model: (\d+) iterations? late .*?, (\d+) dropped")


def open_counts(run):
    """(late, dropped) from the console summary."""
    m = OPEN_LINE.search(run.stdout)
    assert m, f"no open-model line in the summary\n{run.output}"
    return int(m.group(1)), int(m.group(2))


def aggregated(run):
    for row in run.csv["stats"]:
        if row["Name"] == "Aggregated":
            return row
    raise AssertionError(run.output)


# ---------------------------------------------------------------- coordinated omission


@pytest.fixture
def stall_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "stall_server.py"), str(port), "3", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 10, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, timeout=5)


STALL_SCENARIO = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self) self.client:get("/") end)
"""


def test_stall_shows_in_open_model_not_in_closed(run_cicada, tmp_path, stall_server):
    """The same target, stalling 1 s in every 3 s, for 7 s: with 100
    iterations/s the p99 is the stall; with 2 users that wait for their
    responses it is not (each user sees one slow request per stall)."""
    f = write_scenario(tmp_path, STALL_SCENARIO)
    opened = run_cicada(["-f", f, "-H", stall_server, "--headless", "--arrival-rate", 100,
                         "-u", 400, "-t", "7s", "--only-summary", "--threads", 1],
                        prefix="open", timeout=40)
    closed = run_cicada(["-f", f, "-H", stall_server, "--headless", "-u", 2, "-r", 2,
                         "-t", "7s", "--only-summary", "--threads", 1], prefix="closed",
                        timeout=40)
    assert opened.returncode == 0, opened.output
    assert closed.returncode == 0, closed.output
    p99_open, p99_closed = int(aggregated(opened)["99%"]), int(aggregated(closed)["99%"])
    print(f"p99 open {p99_open} ms ({aggregated(opened)['Request Count']} requests), "
          f"closed {p99_closed} ms ({aggregated(closed)['Request Count']} requests)")
    assert p99_open >= 900, opened.output
    assert p99_closed < 900, closed.output
    # the open model kept its rate through the stalls: about 700 iterations
    assert 600 <= int(aggregated(opened)["Request Count"]) <= 760, opened.output


# ---------------------------------------------------------------- arrival counts

class TimedNginx(Nginx):
    """The nginx fixture's server, logging each request's time ($msec)."""

    def config(self, user):
        return super().config(user).replace(
            "log_format e2e '$request_method $request_uri $status $body_bytes_sent';",
            "log_format e2e '$msec $request_method $request_uri $status';")

    def times(self, settle=0.5):
        time.sleep(settle)
        out = []
        for line in self.access_log.read_text().splitlines():
            f = line.split(" ")
            if len(f) == 4 and f[3].isdigit():
                out.append((float(f[0]), f[2]))
        return out


@pytest.fixture
def tnginx(tmp_path):
    n = TimedNginx(tmp_path / "nginx")
    n.dir.mkdir()
    n.start()
    try:
        yield n
    finally:
        n.stop()


COUNT_SCENARIO = """
local tag = os.getenv("CICADA_TAG") or "w"
U = cicada.user { wait_time = cicada.constant(10) }  -- not used in the open model
U:task(function(self) self.client:get("/" .. tag) end)
"""


def check_counts(log, rate, seconds):
    """The iterations nginx saw are rate × their span (first to last
    request) within 1%, and the span is the run time."""
    assert log, "nginx logged nothing"
    ts = sorted(t for t, _ in log)
    span = ts[-1] - ts[0]
    want = rate * span + 1
    print(f"{len(ts)} requests over {span:.3f} s at {rate}/s: want {want:.0f}")
    assert abs(len(ts) - want) <= 0.01 * want, (len(ts), want, span)
    assert seconds - 0.3 <= span <= seconds + 0.3, span
    # spread evenly: every whole second of the run holds rate ± 2%
    for k in range(int(span)):
        n = sum(1 for t in ts if ts[0] + k <= t < ts[0] + k + 1)
        assert abs(n - rate) <= max(2, 0.02 * rate), (k, n, rate)


@pytest.mark.parametrize("rate", [100, 2000])
def test_arrival_count_standalone(run_cicada, tmp_path, tnginx, rate):
    f = write_scenario(tmp_path, COUNT_SCENARIO)
    run = run_cicada(["-f", f, "-H", tnginx.url, "--headless", "--arrival-rate", rate,
                      "-u", 200, "-t", "5s", "--only-summary", "--threads", 2], timeout=40)
    assert run.returncode == 0, run.output
    log = tnginx.times()
    check_counts(log, rate, 5)
    assert int(aggregated(run)["Request Count"]) == len(log)
    late, dropped = open_counts(run)
    assert dropped == 0, run.output


class Procs:
    def __init__(self, d):
        self.d, self.ps = d, []

    def start(self, name, args, env=None):
        f = open(self.d / f"{name}.log", "w")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen([str(CICADA)] + [str(a) for a in args], cwd=self.d, env=e,
                             stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.ps.append((p, f))
        return p

    def stop(self):
        for p, f in self.ps:
            if p.poll() is None:
                stop_process(p, timeout=5)
            f.close()


@pytest.mark.parametrize("rate", [100, 2000])
def test_arrival_count_master_two_workers(tmp_path, tnginx, rate):
    f = write_scenario(tmp_path, COUNT_SCENARIO)
    port = free_port()
    procs = Procs(tmp_path)
    try:
        for w in ("w1", "w2"):
            procs.start(w, ["-f", f, "--worker", "--master-port", port, "--threads", 1],
                        env={"CICADA_TAG": w})
        master = procs.start("master", ["-f", f, "-H", tnginx.url, "--master",
                                        "--master-bind-host", "127.0.0.1",
                                        "--master-bind-port", port, "--expect-workers", 2,
                                        "--headless", "--arrival-rate", rate, "-u", 200,
                                        "-t", "5s", "--only-summary"])
        assert master.wait(timeout=40) == 0, (tmp_path / "master.log").read_text()
    finally:
        procs.stop()
    out = (tmp_path / "master.log").read_text()
    log = tnginx.times()
    check_counts(log, rate, 5)
    # evenly over the workers: each took half the iterations
    for w in ("/w1", "/w2"):
        n = sum(1 for _, p in log if p == w)
        assert abs(n - len(log) / 2) <= 0.01 * len(log) + 2, (w, n, len(log))
    m = re.search(r"Aggregated\s+(\d+)", out)
    assert m and int(m.group(1)) == len(log), out
    assert OPEN_LINE.search(out), out


# ---------------------------------------------------------------- falling behind


def test_dropped_when_users_are_too_few(run_cicada, tmp_path):
    """2 users, each busy 0.5 s per iteration on the demo site's /slow, can
    run 4 iterations/s: of 20/s most are dropped, and reported."""
    port = free_port()
    f = write_scenario(tmp_path, """
U = cicada.user {}
U:task(function(self) self.client:get("/slow") end)
""")
    with demo_server(port, "--slow-delay", "0.5"):
        run = run_cicada(["-f", f, "-H", f"http://127.0.0.1:{port}", "--headless",
                          "--arrival-rate", 20, "-u", 2, "-t", "4s", "--only-summary"],
                         timeout=40)
    assert run.returncode == 0, run.output
    late, dropped = open_counts(run)
    done = int(aggregated(run)["Request Count"])
    print(f"{done} done, {dropped} dropped, {late} late")
    assert done <= 4 * 4 + 4, run.output
    assert dropped >= 50, run.output
    # the same counts in PREFIX_open_model.csv's last row
    rows = (tmp_path / "out_open_model.csv").read_text().splitlines()
    assert rows[0] == "Timestamp,User Count,Requested Rate,Late Iterations,Dropped Iterations"
    last = rows[-1].split(",")
    assert int(last[4]) == dropped and int(last[3]) == late and float(last[2]) == 0.0


def test_dropped_threshold_and_summary_json(run_cicada, tmp_path):
    """The thresholds `dropped` and `late` and --summary-json read the same
    counts as the console: a run that drops iterations fails `dropped<1`
    (exit code 3) and passes `late<1000000`."""
    import json

    port = free_port()
    f = write_scenario(tmp_path, """
U = cicada.user {}
U:task(function(self) self.client:get("/slow") end)
""")
    summary = tmp_path / "summary.json"
    with demo_server(port, "--slow-delay", "0.5"):
        run = run_cicada(["-f", f, "-H", f"http://127.0.0.1:{port}", "--headless",
                          "--arrival-rate", 20, "-u", 2, "-t", "2s", "--only-summary",
                          "--threshold", "dropped<1", "--threshold", "late<1000000",
                          "--summary-json", summary], timeout=40)
    assert run.returncode == 3, run.output
    late, dropped = open_counts(run)
    doc = json.loads(summary.read_text())
    assert doc["dropped"] == dropped > 0 and doc["late"] == late, doc
    rules = {t["rule"]: t for t in doc["thresholds"]}
    assert not doc["thresholds_ok"], doc["thresholds"]
    assert rules["dropped<1"]["value"] == dropped and rules["dropped<1"]["ok"] is False, rules
    assert rules["late<1000000"]["value"] == late and rules["late<1000000"]["ok"] is True, rules


def test_late_when_the_loop_is_saturated(run_cicada, tmp_path):
    """One engine thread, iterations that burn 20 ms of CPU each, asked for
    at 100/s: the loop can start only about 50/s, so iterations start late."""
    f = write_scenario(tmp_path, """
U = cicada.user {}
U:task(function(self)
  local t = cicada.now()  -- wall time: the thread is busy for 20 ms
  while cicada.now() - t < 0.02 do end
  cicada.report { type = "CPU", name = "burn", response_time = 20, response_length = 0 }
end)
""")
    run = run_cicada(["-f", f, "--headless", "--arrival-rate", 100, "-u", 50, "-t", "3s",
                      "--only-summary", "--threads", 1], timeout=40)
    assert run.returncode == 0, run.output
    late, dropped = open_counts(run)
    done = int(aggregated(run)["Request Count"])
    print(f"{done} done, {late} late, {dropped} dropped")
    assert late >= 50, run.output
    assert done <= 3.5 * 50, run.output


# ---------------------------------------------------------------- rates from the scenario


def test_rate_ramp_and_per_class_rates(run_cicada, tmp_path, tnginx):
    """cicada.arrival(cicada.rate_ramp{...}): 0 → 200/s over 2 s, then 2 s
    at 200/s, then the end: 200 + 400 iterations; a rate per class."""
    f = write_scenario(tmp_path, """
A = cicada.user {}
A:task(function(self) self.client:get("/a") end)
B = cicada.user {}
B:task(function(self) self.client:get("/b") end)
local ramp = cicada.rate_ramp{ {to = 200, over = 2}, {hold = 2} }
cicada.arrival(function(t)
  local r = ramp(t)
  if r == nil then return nil end
  return { A = r / 4, B = r * 3 / 4 }
end)
""")
    run = run_cicada(["-f", f, "-H", tnginx.url, "--headless", "-u", 100, "--only-summary"],
                     timeout=40)
    assert run.returncode == 0, run.output
    log = tnginx.times()
    a = sum(1 for _, p in log if p == "/a")
    b = sum(1 for _, p in log if p == "/b")
    print(f"/a {a}, /b {b}")
    assert abs(a + b - 600) <= 0.03 * 600, (a, b)
    assert abs(b / max(a, 1) - 3) <= 0.3, (a, b)
    ts = sorted(t for t, _ in log)
    first_second = sum(1 for t in ts if t < ts[0] + 1)
    assert first_second < 0.4 * 200, first_second  # ramping: ~50 in the first second


def test_bad_arrival_rate_is_a_usage_error(run_cicada, tmp_path):
    f = write_scenario(tmp_path, COUNT_SCENARIO)
    run = run_cicada(["-f", f, "--headless", "--arrival-rate", 0, "-t", "1s"], csv=False)
    assert run.returncode == 2, run.output
    assert "--arrival-rate" in run.stderr, run.output


# ---------------------------------------------------------------- web UI


def test_web_ui_shows_late_and_dropped(spawn_cicada, tmp_path):
    """--autostart in the open model: /stats/requests (the UI's push) has
    the rate asked for and the dropped count, and the page has the
    figures that show them."""
    import json
    import urllib.request

    port, web = free_port(), free_port()
    f = write_scenario(tmp_path, """
U = cicada.user {}
U:task(function(self) self.client:get("/slow") end)
""")
    with demo_server(port, "--slow-delay", "0.5"):
        proc, done = spawn_cicada(["-f", f, "-H", f"http://127.0.0.1:{port}", "--autostart",
                                   "--web-port", web, "--arrival-rate", 20, "-u", 2], csv=False)
        wait_port(web, 10, proc)
        base = f"http://127.0.0.1:{web}"
        doc = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with urllib.request.urlopen(base + "/stats/requests", timeout=5) as r:
                doc = json.load(r)
            if doc.get("dropped", 0) > 0:
                break
            time.sleep(0.5)
        page = urllib.request.urlopen(base + "/", timeout=5).read().decode()
        proc.send_signal(signal.SIGTERM)
        done(20)
    assert doc.get("arrival_rate") == 20, doc
    assert doc.get("dropped", 0) > 0 and "late" in doc, doc
    assert 'data-testid="dropped"' in page and 'data-testid="late"' in page
