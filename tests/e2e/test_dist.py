"""Master and workers (issue 5): cicada master + cicada workers, cicada
workers under a real Locust 2.12.1 master, a real Locust worker under a
cicada master, and the faults: a worker killed or paused, the master
killed, garbage on the master port, Ctrl-C on the master.

Everything runs on 127.0.0.1 against the real nginx fixture, whose access
log is the ground truth for request counts. Every process is started here,
logs to a file in the test's tmp dir, and is killed by its PID at the end.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime

import pytest

from conftest import CICADA, LOCUST, free_port, read_csvs, stop_process

SCENARIO = """
-- TAG names this worker's requests, so a test can tell workers apart
local tag = os.getenv("CICADA_TAG") or "w"
Web = cicada.user { weight = 3, wait_time = cicada.constant(0.05) }
Web:task(1, function(self) self.client:get("/" .. tag .. "/web") end)
Other = cicada.user { weight = 1, wait_time = cicada.constant(0.05) }
Other:task(1, function(self) self.client:get("/" .. tag .. "/other") end)
"""

# The same class names for a Locust master (it runs no users itself) and
# for a Locust worker (which does).
LOCUSTFILE = """
import os
from locust import HttpUser, task, constant

TAG = os.environ.get("CICADA_TAG", "w")

class Web(HttpUser):
    weight = 3
    wait_time = constant(0.05)
    @task
    def web(self):
        self.client.get(f"/{TAG}/web")

class Other(HttpUser):
    weight = 1
    wait_time = constant(0.05)
    @task
    def other(self):
        self.client.get(f"/{TAG}/other")
"""


class Proc:
    """A process logging to <tmp>/<name>.log."""

    def __init__(self, name, cmd, cwd, env=None):
        self.name = name
        self.log = cwd / f"{name}.log"
        self._f = open(self.log, "w")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=full_env,
                                  stdin=subprocess.DEVNULL, stdout=self._f,
                                  stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.p.pid

    def text(self):
        return self.log.read_text(errors="replace")

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
            raise AssertionError(f"{self.name} did not exit within {timeout} s\n{self.text()}")

    def wait_for(self, pattern, timeout):
        """The first match of regex pattern in the log, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no /{pattern}/ within {timeout} s\n{self.text()}")

    def stop(self):
        stop_process(self.p, signal.SIGKILL)
        self._f.close()


@pytest.fixture
def procs(tmp_path):
    """start(name, cmd, env=None) -> Proc; every process is killed at teardown."""
    started = []

    def start(name, cmd, env=None, cwd=None):
        p = Proc(name, cmd, cwd or tmp_path, env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def log_time(line_match):
    """The wall time of a Locust-format log line's timestamp."""
    ts = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", line_match)
    assert ts, line_match
    return datetime.strptime(ts.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(ts.group(2)) / 1000


def spawned(text):
    """The last 'All users spawned: {...} (N total users)' of a log, as
    ({class: n}, N)."""
    found = re.findall(r'All users spawned: \{([^}]*)\} \((\d+) total users\)', text)
    assert found, text
    body, total = found[-1]
    counts = {k: int(v) for k, v in re.findall(r'"(\w+)": (\d+)', body)}
    return counts, int(total)


def master_cmd(scenario, port, *extra):
    return [CICADA, "-f", scenario, "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, *extra]


def worker_cmd(scenario, port, *extra):
    return [CICADA, "-f", scenario, "--worker", "--master-host", "127.0.0.1", "--master-port",
            port, "--threads", 2, *extra]


def agg_count(csvs):
    rows = [r for r in csvs["stats"] if r["Name"] == "Aggregated"]
    assert rows, csvs
    return int(rows[0]["Request Count"])


def name_count(csvs, name):
    return sum(int(r["Request Count"]) for r in csvs["stats"] if r["Name"] == name)


@pytest.fixture
def scenario(tmp_path):
    p = tmp_path / "dist.lua"
    p.write_text(SCENARIO)
    return p


@pytest.mark.time_limit(60)
def test_master_two_workers_totals_and_split(tmp_path, nginx, procs, scenario):
    """-u 10 over two workers, weights 3:1: Locust's split (7 Web, 3 Other;
    5 users per worker), and the master's final totals equal nginx's log."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 10, "-r", 10, "-t", 5,
                                        "--expect-workers", 2, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    w1 = procs("w1", worker_cmd(scenario, port), env={"CICADA_TAG": "one"})
    w2 = procs("w2", worker_cmd(scenario, port), env={"CICADA_TAG": "two"})
    assert master.wait(30) == 0, master.text()
    assert w1.wait(10) == 0, w1.text()
    assert w2.wait(10) == 0, w2.text()

    counts, total = spawned(master.text())
    assert total == 10 and counts == {"Other": 3, "Web": 7}, master.text()
    for w in (w1, w2):
        c, t = spawned(w.text())
        assert t == 5, w.text()
    # Locust's cycle over workers with classes interleaved: 5+0 / 2+3
    assert sorted(spawned(w.text())[0]["Web"] for w in (w1, w2)) == [2, 5]

    _, csvs = read_csvs(tmp_path / "m")
    served = nginx.counts_by_path()
    assert agg_count(csvs) == sum(served.values()) > 100
    for path, n in served.items():
        assert name_count(csvs, path) == n, (path, served)
    assert {p.split("/")[1] for p in served} == {"one", "two"}, served
    # the workers' CPU and memory made it to the master (heartbeats)
    assert "different version" not in master.text()


@pytest.mark.time_limit(60)
def test_cicada_workers_under_locust_master(tmp_path, nginx, procs, scenario):
    """Two cicada workers join a real Locust 2.12.1 master (Debian's, which
    only accepts a non-empty version): Locust's own CSV counts their
    requests as nginx served them."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    port = free_port()
    master = procs("locust", [LOCUST, "-f", tmp_path / "locustfile.py", "--master", "--headless",
                              "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                              "-u", 6, "-r", 6, "-t", 6, "--expect-workers", 2, "-H", nginx.url,
                              "--csv", tmp_path / "loc"])
    w1 = procs("w1", worker_cmd(scenario, port), env={"CICADA_TAG": "one"})
    w2 = procs("w2", worker_cmd(scenario, port), env={"CICADA_TAG": "two"})
    master.wait(40)
    assert w1.wait(15) == 0, w1.text()
    assert w2.wait(15) == 0, w2.text()
    assert "different version (2.12.1) connected" in master.text()
    _, csvs = read_csvs(tmp_path / "loc")
    served = nginx.counts_by_path()
    total = sum(served.values())
    got = agg_count(csvs)
    # Locust's master waits only 0.5 s after its quit for the final reports:
    # all of them arrive in practice, allow a few requests of slack
    assert total > 100 and total - 10 <= got <= total, (got, served, master.text())
    for path, n in served.items():
        assert 0 < name_count(csvs, path) <= n, (path, served, csvs["stats"])
    assert {p.split("/")[1] for p in served} == {"one", "two"}, served


@pytest.mark.time_limit(60)
def test_locust_worker_under_cicada_master(tmp_path, nginx, procs, scenario):
    """A real Locust worker (empty version string) joins a cicada master;
    its requests appear in the master's statistics, exactly."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 4, "-r", 4, "-t", 5,
                                        "--expect-workers", 1, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    worker = procs("locust-worker", [LOCUST, "-f", tmp_path / "locustfile.py", "--worker",
                                     "--master-host", "127.0.0.1", "--master-port", port],
                   env={"CICADA_TAG": "loc"})
    assert master.wait(30) == 0, master.text()
    worker.wait(15)
    assert "sent no version" in master.text()
    _, csvs = read_csvs(tmp_path / "m")
    served = nginx.counts_by_path()
    assert name_count(csvs, "/loc/web") == served.get("/loc/web", 0) > 0, (csvs, served)
    assert agg_count(csvs) == sum(served.values())
    counts, total = spawned(master.text())
    assert total == 4 and counts == {"Other": 1, "Web": 3}


@pytest.mark.time_limit(90)
def test_worker_killed_marked_missing_users_moved(tmp_path, nginx, procs, scenario):
    """kill -9 of one worker mid-run: marked missing within 5 s, its users go
    to the other worker, and the final totals keep what it reported."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 10, "-r", 10, "-t", 14,
                                        "--expect-workers", 2, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    wa = procs("wa", worker_cmd(scenario, port), env={"CICADA_TAG": "dead"})
    wb = procs("wb", worker_cmd(scenario, port), env={"CICADA_TAG": "live"})
    line = master.wait_for(r"\[[^\]]+\][^\n]*All users spawned", 15)
    spawned_at = log_time(line.group(0))
    time.sleep(4)  # at least one report from each worker
    started = nginx.log_lines(settle=0)
    killed_at = time.time()
    os.kill(wa.pid, signal.SIGKILL)
    line = master.wait_for(r"\[[^\]]+\][^\n]*Worker \S+ failed to send heartbeat, setting state to missing", 10)
    assert log_time(line.group(0)) - killed_at <= 5.0, line.group(0)
    # the survivor gets all 10 users
    wb.wait_for(r"\(10 total users\)", 5)
    assert master.wait(40) == 0, master.text()
    assert wb.wait(10) == 0, wb.text()

    _, csvs = read_csvs(tmp_path / "m")
    served = nginx.counts_by_path()
    dead = served.get("/dead/web", 0) + served.get("/dead/other", 0)
    got_dead = name_count(csvs, "/dead/web") + name_count(csvs, "/dead/other")
    # everything the dead worker reported is there; what it did since its
    # last report (3 s, plus up to 1 s its engines had not handed over) is lost
    rate = dead / max(1.0, killed_at - spawned_at)
    assert got_dead <= dead, (got_dead, dead)
    assert got_dead >= dead - rate * 4.5 and got_dead > 0, (got_dead, dead, rate)
    live = served.get("/live/web", 0) + served.get("/live/other", 0)
    got_live = name_count(csvs, "/live/web") + name_count(csvs, "/live/other")
    assert got_live == live > 0
    assert len(started) > 0


@pytest.mark.time_limit(60)
def test_paused_worker_self_heals(tmp_path, nginx, procs, scenario):
    """A worker that stops heartbeating (SIGSTOP) goes missing; when it comes
    back (SIGCONT) it rejoins and gets users again."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 4, "-r", 4, "-t", 16,
                                        "--expect-workers", 2, "-H", nginx.url))
    wa = procs("wa", worker_cmd(scenario, port), env={"CICADA_TAG": "a"})
    wb = procs("wb", worker_cmd(scenario, port), env={"CICADA_TAG": "b"})
    master.wait_for(r"All users spawned", 15)
    os.kill(wa.pid, signal.SIGSTOP)
    try:
        master.wait_for(r"failed to send heartbeat, setting state to missing", 8)
        wb.wait_for(r"\(4 total users\)", 5)
    finally:
        os.kill(wa.pid, signal.SIGCONT)
    # it rejoins: by a heartbeat (self-healed), or by a new client_ready if
    # its ZMTP pings timed out during the pause and it reconnected
    master.wait_for(r"missing\.[\s\S]*(self-healed with heartbeat|reported as ready)", 5)
    # rebalanced again: 2 users each
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and spawned(wb.text())[1] != 2:
        time.sleep(0.1)
    assert spawned(wb.text())[1] == 2, wb.text()
    assert master.wait(30) == 0, master.text()


@pytest.mark.time_limit(60)
def test_master_killed_workers_exit(tmp_path, nginx, procs, scenario):
    """kill -9 of the master: the workers notice (the connection stays down
    for 10 s), stop their users and exit non-zero within 15 s."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 4, "-r", 4,
                                        "--expect-workers", 2, "-H", nginx.url))
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    master.wait_for(r"All users spawned", 15)
    time.sleep(1)
    os.kill(master.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert w1.wait(16) != 0, w1.text()
    assert w2.wait(16) != 0, w2.text()
    assert time.monotonic() - killed <= 15.5
    assert "is gone" in w1.text()
    # the users stopped: nginx sees no more requests
    before = nginx.count(settle=0.5)
    time.sleep(0.5)
    assert nginx.count(settle=0.3) == before


@pytest.mark.time_limit(60)
def test_garbage_on_master_port(tmp_path, nginx, procs, scenario):
    """Raw bytes over a ZeroMQ DEALER, malformed and unknown messages, a
    non-UTF-8 identity, and plain TCP garbage: the master logs and drops
    them (answering undecodable frames with `reconnect`, like Locust), and
    the test goes on to exact totals."""
    zmq = pytest.importorskip("zmq")
    msgpack = pytest.importorskip("msgpack")
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 2, "-r", 2, "-t", 6,
                                        "--expect-workers", 1, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    worker = procs("w", worker_cmd(scenario, port))
    master.wait_for(r"All users spawned", 15)

    ctx = zmq.Context()
    try:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.IDENTITY, b"garbage_0123")
        d.setsockopt(zmq.LINGER, 0)
        d.connect(f"tcp://127.0.0.1:{port}")
        for payload in [b"\xc1\xc1 not msgpack", msgpack.packb(["x"]),
                        msgpack.packb([1, 2, 3]), msgpack.packb(["stats", None, "x"]) + b"extra",
                        msgpack.packb(["bogus_type", {"a": 1}, "garbage_0123"]),
                        msgpack.packb(["heartbeat", "nonsense", "garbage_0123"]),
                        msgpack.packb(["stats", [1, 2], "garbage_0123"]),
                        msgpack.packb(["stats", {"stats": [{"name": 5}, 7], "stats_total": 3,
                                                 "errors": {"k": 1}}, "garbage_0123"]),
                        msgpack.packb(["spawning", None, "garbage_0123"]),
                        msgpack.packb(["exception", {"msg": 1}, "garbage_0123"]),
                        msgpack.packb(["client_ready", {"weird": True}, "garbage_0123"]),
                        msgpack.packb(["heartbeat", {"state": 7}, "garbage_0123"]),
                        msgpack.packb(["quit", None, "garbage_0123"])]:
            d.send(payload)
        assert d.poll(3000), "no reply to an undecodable frame"
        reply = msgpack.unpackb(d.recv(), raw=False)
        assert reply[0] == "reconnect", reply
        # a multi-frame message and a non-UTF-8 identity
        d2 = ctx.socket(zmq.DEALER)
        d2.setsockopt(zmq.IDENTITY, b"\xff\xfe")
        d2.setsockopt(zmq.LINGER, 0)
        d2.connect(f"tcp://127.0.0.1:{port}")
        d2.send_multipart([b"", msgpack.packb(["client_ready", "", "x"]), b"more"])
        d2.send(msgpack.packb(["client_ready", "", "\xff"]))
        time.sleep(0.3)
        d.close()
        d2.close()
    finally:
        ctx.term()
    # not ZeroMQ at all
    for junk in (b"GET / HTTP/1.0\r\n\r\n", os.urandom(4096), b"\xff" * 64):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            try:
                s.sendall(junk)
                s.recv(64)
            except OSError:
                pass
    assert master.wait(30) == 0, master.text()
    assert worker.wait(10) == 0, worker.text()
    text = master.text()
    assert "RPCError" in text and "Unknown message type" in text
    _, csvs = read_csvs(tmp_path / "m")
    assert agg_count(csvs) == nginx.count() > 0


@pytest.mark.time_limit(60)
def test_ctrl_c_on_master_keeps_final_reports(tmp_path, nginx, procs, scenario):
    """SIGINT to a headless master with no run time: every worker gets quit,
    sends its last report, and the CSVs hold all of it."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 6, "-r", 6,
                                        "--expect-workers", 2, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    master.wait_for(r"All users spawned", 15)
    time.sleep(2.2)  # mid-way between two reports
    os.kill(master.pid, signal.SIGINT)
    assert master.wait(20) == 0, master.text()
    assert w1.wait(10) == 0 and w2.wait(10) == 0
    _, csvs = read_csvs(tmp_path / "m")
    assert agg_count(csvs) == nginx.count() > 0


def http_json(port, route, data=None):
    import json
    import urllib.parse
    import urllib.request
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=body)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


@pytest.mark.time_limit(60)
def test_web_ui_master_lists_workers(tmp_path, nginx, procs, scenario):
    """A master with the web UI: /swarm spreads users over the workers, and
    /stats/requests lists each worker (id, state, users, CPU, memory) as
    Locust's does; /stop brings them back to ready with no users."""
    port, web = free_port(), free_port()
    master = procs("master", master_cmd(scenario, port, "--web-host", "127.0.0.1",
                                        "--web-port", web))
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if len(http_json(web, "/stats/requests")["workers"]) == 2:
                break
        except OSError:
            pass
        time.sleep(0.1)
    r = http_json(web, "/swarm", {"user_count": 6, "spawn_rate": 100, "host": nginx.url})
    assert r.get("success") is True, r
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = http_json(web, "/stats/requests")
        ws = d["workers"]
        if (d["state"] == "running" and [w["user_count"] for w in ws] == [3, 3]
                and all(w["memory_usage"] > 0 for w in ws)):
            break
        time.sleep(0.2)
    assert d["state"] == "running" and d["user_count"] == 6, d
    assert sorted(w["state"] for w in ws) == ["running", "running"], ws
    assert all(set(w) >= {"id", "state", "user_count", "cpu_usage", "memory_usage"} for w in ws)
    assert all(re.match(r".+_[0-9a-f]{32}$", w["id"]) for w in ws), ws
    assert [w["user_count"] for w in ws] == [3, 3] and all(w["memory_usage"] > 0 for w in ws), ws
    time.sleep(3.5)  # a report from each worker
    assert http_json(web, "/stats/requests")["stats"], "no merged statistics"
    http_json(web, "/stop")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = http_json(web, "/stats/requests")
        if d["state"] == "stopped" and d["user_count"] == 0 and all(
                w["state"] == "ready" for w in d["workers"]) and len(d["workers"]) == 2:
            break
        time.sleep(0.2)
    assert d["state"] == "stopped" and d["user_count"] == 0, d
    assert [w["state"] for w in d["workers"]] == ["ready", "ready"], d["workers"]
    os.kill(master.pid, signal.SIGTERM)
    master.wait(15)
    assert w1.wait(10) == 0 and w2.wait(10) == 0


@pytest.mark.time_limit(60)
def test_worker_exceptions_reach_master(tmp_path, nginx, procs):
    """A Lua error in a worker's task reaches the master's exceptions with
    the worker's id in Nodes, and the master's exit code says so."""
    scenario = tmp_path / "boom.lua"
    scenario.write_text("""
U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(1, function(self)
  self.client:get("/fast")
  error("boom from a worker")
end)
""")
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 2, "-r", 2, "-t", 4,
                                        "--expect-workers", 1, "-H", nginx.url,
                                        "--csv", tmp_path / "m"))
    worker = procs("w", worker_cmd(scenario, port))
    assert master.wait(30) == 1, master.text()
    assert worker.wait(10) == 0
    wid = re.search(r"Starting worker (\S+),", worker.text()).group(1)
    _, csvs = read_csvs(tmp_path / "m")
    rows = csvs["exceptions"]
    assert len(rows) == 1 and "boom from a worker" in rows[0]["Message"], rows
    assert rows[0]["Nodes"] == wid
    assert int(rows[0]["Count"]) == nginx.count("/fast")


@pytest.mark.time_limit(60)
def test_worker_joins_a_restarted_master(tmp_path, nginx, procs, scenario):
    """The master dies and a new one binds the same port within 10 s: the
    worker announces itself again and runs the new master's test."""
    port = free_port()
    first = procs("master1", master_cmd(scenario, port, "--headless", "-u", 2, "-r", 2,
                                        "--expect-workers", 1, "-H", nginx.url))
    worker = procs("w", worker_cmd(scenario, port))
    first.wait_for(r"All users spawned", 15)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(5)
    time.sleep(1)
    second = procs("master2", master_cmd(scenario, port, "--headless", "-u", 4, "-r", 4, "-t", 3,
                                         "--expect-workers", 1, "-H", nginx.url,
                                         "--csv", tmp_path / "m2"))
    assert second.wait(30) == 0, second.text() + worker.text()
    assert worker.wait(10) == 0, worker.text()
    assert "Reconnected to the master" in worker.text()
    assert spawned(second.text())[1] == 4
    _, csvs = read_csvs(tmp_path / "m2")
    assert agg_count(csvs) > 0


@pytest.mark.time_limit(30)
def test_expect_workers_max_wait_gives_up(tmp_path, procs, scenario):
    """No worker comes: the headless master gives up after
    --expect-workers-max-wait with Locust's message and exit code 1."""
    port = free_port()
    start = time.monotonic()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 2,
                                        "--expect-workers", 2, "--expect-workers-max-wait", 1.5))
    assert master.wait(15) == 1, master.text()
    assert 1.4 <= time.monotonic() - start <= 10
    text = master.text()
    assert "Waiting for workers to be ready, 0 of 2 connected" in text
    assert "Gave up waiting for workers to connect" in text
