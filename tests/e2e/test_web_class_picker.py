"""/swarm's user_classes with --class-picker, as Locust 2.12.1 does it.

A real nginx counts which paths each class requests (Alpha gets /a, Beta
/b). With --class-picker, /swarm runs only the classes named in the
repeated user_classes field (none named: all of them), and its answer
lists them, sorted, like Locust's; cicada also takes weight.<Class> and
fixed_count.<Class>, and refuses an unknown class or a bad number with a
400 naming the field. Without --class-picker the field is ignored, as in
Locust. One check runs the same POST against a real Locust 2.12.1 with
--class-picker and compares the answers.
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import CICADA, LOCUST, free_port, stop_process, wait_port

pytestmark = pytest.mark.time_limit(60)

SCENARIO = """\
Alpha = cicada.user { wait_time = cicada.constant(0.05), weight = 1 }
Alpha:task(function(self) self.client:get("/a") end)
Beta = cicada.user { wait_time = cicada.constant(0.05), weight = 3 }
Beta:task(function(self) self.client:get("/b") end)
"""

LOCUSTFILE = """\
from locust import HttpUser, task, constant

class Alpha(HttpUser):
    wait_time = constant(0.05)
    weight = 1

    @task
    def a(self):
        self.client.get("/a")

class Beta(HttpUser):
    wait_time = constant(0.05)
    weight = 3

    @task
    def b(self):
        self.client.get("/b")
"""


def post(base, route, pairs):
    """(status, JSON) of POSTing the form `pairs` (a list: fields may repeat)."""
    req = urllib.request.Request(base + route, data=urllib.parse.urlencode(pairs).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(base, route):
    with urllib.request.urlopen(base + route, timeout=10) as r:
        return json.loads(r.read())


def wait_until(fn, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Ui:
    def __init__(self, cmd, cwd, port, env=None):
        self.url = f"http://127.0.0.1:{port}"
        self.log = cwd / f"ui-{port}.log"
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT)
        wait_port(port, 30, self.proc)

    def stop(self):
        stop_process(self.proc, timeout=10)


def start_cicada(tmp_path, nginx, *flags):
    (tmp_path / "scenario.lua").write_text(SCENARIO)
    port = free_port()
    return Ui([str(CICADA), "-f", "scenario.lua", "-H", nginx.url, "--web-host", "127.0.0.1",
               "--web-port", str(port), *flags], tmp_path, port)


def run_and_count(ui, nginx, pairs, users):
    """POST /swarm, wait for `users` users, let them run, stop; the answer
    and {path: requests} of this run."""
    before = nginx.counts_by_path()
    status, j = post(ui.url, "/swarm", pairs)
    assert status == 200, j
    wait_until(lambda: get(ui.url, "/stats/requests")["state"] == "running", "running")
    assert get(ui.url, "/stats/requests")["user_count"] == users
    time.sleep(0.8)
    urllib.request.urlopen(ui.url + "/stop", timeout=10).read()
    wait_until(lambda: get(ui.url, "/stats/requests")["state"] == "stopped", "stopped")
    after = nginx.counts_by_path()
    return j, {p: after.get(p, 0) - before.get(p, 0) for p in ("/a", "/b")}


def test_user_classes_choose_the_classes(tmp_path, nginx):
    ui = start_cicada(tmp_path, nginx, "--class-picker")
    try:
        uc = get(ui.url, "/user_classes")
        assert uc["class_picker"] is True
        assert [(c["name"], c["weight"], c["fixed_count"], c["selected"]) for c in uc["user_classes"]] \
            == [("Alpha", 1, 0, True), ("Beta", 3, 0, True)]

        # only Beta
        j, n = run_and_count(ui, nginx, [("user_count", 4), ("spawn_rate", 100),
                                         ("user_classes", "Beta")], 4)
        assert j["success"] is True and j["user_classes"] == ["Beta"], j
        assert n["/b"] > 0 and n["/a"] == 0, n
        assert [c["selected"] for c in get(ui.url, "/user_classes")["user_classes"]] == [False, True]

        # none named: every class, as in Locust; Alpha with a fixed count of 1
        j, n = run_and_count(ui, nginx, [("user_count", 3), ("spawn_rate", 100),
                                         ("fixed_count.Alpha", 1)], 3)
        assert j["user_classes"] == ["Alpha", "Beta"], j
        assert n["/a"] > 0 and n["/b"] > 0, n
        per = {c["name"]: c for c in get(ui.url, "/user_classes")["user_classes"]}
        assert per["Alpha"]["fixed_count"] == 1 and per["Beta"]["fixed_count"] == 0

        # weights: Alpha 0 and Beta 1 is Beta alone
        j, n = run_and_count(ui, nginx, [("user_count", 2), ("spawn_rate", 100),
                                         ("user_classes", "Alpha"), ("user_classes", "Beta"),
                                         ("fixed_count.Alpha", 0), ("weight.Alpha", 0),
                                         ("weight.Beta", 1)], 2)
        assert n["/b"] > 0 and n["/a"] == 0, n
    finally:
        ui.stop()


def test_user_classes_bad_input(tmp_path, nginx):
    ui = start_cicada(tmp_path, nginx, "--class-picker")
    try:
        base = [("user_count", 2), ("spawn_rate", 10)]
        status, j = post(ui.url, "/swarm", base + [("user_classes", "Gamma")])
        assert status == 400 and j["success"] is False
        assert "user_classes" in j["message"] and "Gamma" in j["message"], j
        status, j = post(ui.url, "/swarm", base + [("weight.Beta", "lots")])
        assert status == 400 and "weight.Beta" in j["message"], j
        status, j = post(ui.url, "/swarm", base + [("fixed_count.Alpha", "1.5")])
        assert status == 400 and "fixed_count.Alpha" in j["message"], j
        status, j = post(ui.url, "/swarm", base + [("user_classes", "Alpha"), ("weight.Alpha", 0)])
        assert status == 400 and "weight 0" in j["message"], j
        # nothing started
        assert get(ui.url, "/stats/requests")["state"] == "ready"
        assert nginx.count() == 0
    finally:
        ui.stop()


def test_without_class_picker_user_classes_is_ignored(tmp_path, nginx):
    ui = start_cicada(tmp_path, nginx)
    try:
        assert get(ui.url, "/user_classes")["class_picker"] is False
        j, n = run_and_count(ui, nginx, [("user_count", 4), ("spawn_rate", 100),
                                         ("user_classes", "Beta")], 4)
        assert "user_classes" not in j, j
        assert n["/a"] > 0 and n["/b"] > 0, n
    finally:
        ui.stop()


def test_same_answer_as_locust(tmp_path, nginx):
    """A real Locust 2.12.1 with --class-picker answers user_classes=Beta
    with the same fields and class list as cicada, and runs Beta alone."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("LOCUST_HOST", None)
    loc = Ui([LOCUST, "-f", "locustfile.py", "--host", nginx.url, "--web-host", "127.0.0.1",
              "--web-port", str(port), "--class-picker"], tmp_path, port, env)
    try:
        pairs = [("user_count", 2), ("spawn_rate", 100), ("user_classes", "Beta")]
        status, lj = post(loc.url, "/swarm", pairs)
        assert status == 200, lj
        wait_until(lambda: get(loc.url, "/stats/requests")["user_count"] == 2, "locust's 2 users")
        wait_until(lambda: nginx.count("/b", settle=0) > 0, "locust's /b requests")
        urllib.request.urlopen(loc.url + "/stop", timeout=10).read()
    finally:
        loc.stop()
    assert nginx.count("/a") == 0
    ui = start_cicada(tmp_path, nginx, "--class-picker")
    try:
        status, cj = post(ui.url, "/swarm", pairs)
        assert status == 200, cj
    finally:
        ui.stop()
    assert set(lj) <= set(cj), (lj, cj)
    assert cj["user_classes"] == lj["user_classes"] == ["Beta"]
