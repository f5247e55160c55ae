"""The rough edges of issue 13 (items 8-11) and --run-time on a master.

- `HEADLESS=1 make run` (the README's first command) exits 0 although the
  demo's flaky pages fail on purpose, and Ctrl-C on it ends cleanly: cicada
  prints its summary, the demo site stops, the exit code is 0;
- "All users spawned" is logged once the engines created the users: the
  web API never says "running" with fewer users than asked for;
- a master's console prints a table only when a worker's report brought
  news (no two identical tables in a row);
- -t given to a master (here from its locust.conf) stops its workers, which
  have no -t of their own.
Every process is started here, bounded by a timeout and stopped by its PID.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import CICADA, REPO, free_port, stop_process, wait_port


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.time_limit(60)
def test_headless_make_run_exits_0(tmp_path):
    port = free_port()
    # --fail-ratio 1: the failing pages surely fail within the short run
    env = dict(os.environ, HEADLESS="1", RUN_TIME="3s", USERS="10", SPAWN_RATE="10",
               DEMO_PORT=str(port), CSV=str(tmp_path / "demo"), DEMO_ARGS="--fail-ratio 1")
    r = subprocess.run(["make", "--no-print-directory", "run"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=50)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "make: ***" not in r.stderr, r.stderr
    # the demo did fail on purpose, and said so
    assert "Error report" in r.stdout, r.stdout
    assert (tmp_path / "demo_stats.csv").exists()
    assert not port_open(port), "the demo site is still running"


@pytest.mark.time_limit(60)
def test_ctrl_c_on_make_run_ends_cleanly(tmp_path):
    """Ctrl-C reaches the whole foreground group (make, the script, cicada,
    the demo site): cicada stops and reports, the site stops, exit 0."""
    port = free_port()
    env = dict(os.environ, HEADLESS="1", RUN_TIME="30s", USERS="5", SPAWN_RATE="5",
               DEMO_PORT=str(port), CSV=str(tmp_path / "demo"))
    out = open(tmp_path / "run.log", "w")
    p = subprocess.Popen(["sh", str(REPO / "tools" / "run-demo.sh")], cwd=REPO, env=env,
                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while "All users spawned" not in (tmp_path / "run.log").read_text():
            assert time.monotonic() < deadline and p.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.1)
        os.killpg(p.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
        rc = p.wait(timeout=20)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        out.close()
    text = (tmp_path / "run.log").read_text()
    assert rc == 0, text
    assert "Response time percentiles" in text, text  # the summary was printed
    assert "Shutting down (exit code 0)" in text
    assert not port_open(port), "the demo site is still running"


@pytest.mark.time_limit(60)
def test_all_users_spawned_when_they_exist(tmp_path):
    """200,000 idle users at 1,000,000/s on one engine thread take the
    engine most of a second to create: the state stays "spawning" until
    they exist, so "running" always comes with every user there, and the
    log line comes after the users."""
    (tmp_path / "idle.lua").write_text(
        "Idle = cicada.user { wait_time = cicada.constant(1000) }\n"
        "Idle:task(function(self) cicada.sleep(1000) end)\n")
    port = free_port()
    target = 200000
    p = subprocess.Popen([str(CICADA), "-f", "idle.lua", "-H", "http://127.0.0.1:9", "--autostart",
                          "-u", str(target), "-r", "1000000", "--threads", "1", "--web-port",
                          str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        wait_port(port, 10, p)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=5) as r:
                d = json.loads(r.read())
            seen.append((d["state"], d["user_count"]))
            if d["state"] == "running":
                break
            time.sleep(0.01)
    finally:
        stop_process(p)
    err = p.stderr.read()
    running = [u for s, u in seen if s == "running"]
    assert running, seen[-5:]
    assert all(u == target for u in running), seen
    assert "All users spawned: {\"Idle\": 200000} (200000 total users)" in err, err


SCENARIO = """
Web = cicada.user { wait_time = cicada.constant(0.05) }
Web:task(1, function(self) self.client:get("/w") end)
"""


def start(cmd, cwd, log):
    f = open(log, "w")
    p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL, stdout=f,
                         stderr=subprocess.STDOUT)
    f.close()
    return p


@pytest.mark.time_limit(60)
def test_master_run_time_from_its_conf_stops_workers(tmp_path, nginx):
    """-t (here run-time in the master's locust.conf) on the master: the
    worker, with no -t, is stopped and quit by it; nothing reaches nginx
    afterwards; the master's console prints a table only with news."""
    mdir, wdir = tmp_path / "m", tmp_path / "w"
    mdir.mkdir()
    wdir.mkdir()
    for d in (mdir, wdir):
        (d / "s.lua").write_text(SCENARIO)
    port = free_port()
    (mdir / "locust.conf").write_text(
        f"master = true\nheadless = true\nrun-time = 12s\nusers = 4\nspawn-rate = 100\n"
        f"master-bind-host = 127.0.0.1\nmaster-bind-port = {port}\nhost = {nginx.url}\n")
    t0 = time.monotonic()
    master = start([CICADA, "-f", "s.lua"], mdir, tmp_path / "master.log")
    worker = start([CICADA, "-f", "s.lua", "--worker", "--master-host", "127.0.0.1",
                    "--master-port", port, "--threads", 1], wdir, tmp_path / "worker.log")
    try:
        assert master.wait(timeout=30) == 0, (tmp_path / "master.log").read_text()
        took = time.monotonic() - t0
        assert worker.wait(timeout=10) == 0, (tmp_path / "worker.log").read_text()
    finally:
        for p in (master, worker):
            if p.poll() is None:
                stop_process(p)
    mlog = (tmp_path / "master.log").read_text()
    assert "Run time limit set to 12 seconds" in mlog
    assert 11 < took < 25, took
    served = nginx.count("/w")
    time.sleep(1)
    assert nginx.count("/w") == served > 0  # the worker stopped sending
    # the console: a table is due every 2 s, but printed only when a report
    # (every 3 s) brought news: each shows more requests than the one before
    # (without the rule, one 2 s gap in three has no report: same figures)
    counts = [int(n) for n in re.findall(r"\n\s+Aggregated\s+(\d+)\s+\d+\(", mlog)]
    periodic = counts[:-1]  # the last is the final summary's
    assert len(periodic) >= 2, mlog
    assert all(a < b for a, b in zip(periodic, periodic[1:])), periodic
    assert len(periodic) <= 12 / 3 + 1, periodic


@pytest.mark.time_limit(60)
def test_iterations_with_master_and_worker(tmp_path, nginx):
    """iterations = 3 in a locust.conf both read: the worker's 4 users run 3
    tasks each (12 requests in nginx's log) and the master ends the run
    once its worker reports no user left, long before -t."""
    (tmp_path / "s.lua").write_text(SCENARIO)
    (tmp_path / "locust.conf").write_text("iterations = 3\n")
    port = free_port()
    t0 = time.monotonic()
    master = start([CICADA, "-f", "s.lua", "--master", "--headless", "-u", 4, "-r", 100,
                    "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                    "-H", nginx.url, "-t", 60], tmp_path, tmp_path / "master.log")
    worker = start([CICADA, "-f", "s.lua", "--worker", "--master-host", "127.0.0.1",
                    "--master-port", port, "--threads", 2], tmp_path, tmp_path / "worker.log")
    try:
        assert master.wait(timeout=30) == 0, (tmp_path / "master.log").read_text()
        assert worker.wait(timeout=10) == 0, (tmp_path / "worker.log").read_text()
    finally:
        for p in (master, worker):
            if p.poll() is None:
                stop_process(p)
    assert time.monotonic() - t0 < 25
    assert "All users finished their 3 iterations" in (tmp_path / "master.log").read_text()
    assert nginx.count("/w") == 12
