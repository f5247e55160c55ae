"""How a run stops (issue 8, items 6-8), against real servers.

- The stop rule: at stop no user starts a new request; a request in flight
  gets a grace (--stop-timeout, or 1 s) and is recorded as usual; one still
  unfinished after it is cut (nginx logs 499), counted apart ("N requests
  cut off at stop"), neither a success nor a failure, and the exit code
  stays 0; on_stop runs for every user, cut or not.
- One recording path: plain, implicitly settled catch_response,
  success(), failure(), cicada.report -- each counted once in the CSV and
  once by a request listener, equal to nginx's access log, whether the run
  ends by -t or by SIGINT.
- A task that never yields (a spinning loop, a loop that allocates without
  bound) cannot hang the process: the run's end, and a second Ctrl-C, end
  it within seconds with the CSVs written from everything measured.

The slow requests go through nginx to `cicada demo-server` (its /slow
waits --slow-delay seconds), so that nginx logs them, 499 when cut.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import (assert_complete_csvs, demo_server, free_port, stop_process, wait_port,
                      write_scenario)

USERS = 10

SLOW = """\
Slow = cicada.user { wait_time = cicada.constant(0) }
function Slow:on_stop() self.client:get("/stop", { name = "stop" }) end
Slow:task(1, function(self) self.client:get("/slow", { name = "slow" }) end)
"""


def cut_line(run):
    m = re.search(r"^(\d+) requests? cut off at stop$", run.stdout, re.M)
    return int(m.group(1)) if m else 0


@pytest.mark.time_limit(60)
def test_request_in_flight_finishes_within_the_grace(tmp_path, nginx, run_cicada):
    """-s 0: /slow takes 0.4 s, under the 1 s grace: every request in flight
    at the stop completes and is recorded as a success; none is cut."""
    scenario = write_scenario(tmp_path, SLOW)
    with demo_server(nginx.upstream_port, "--slow-delay", 0.4):
        run = run_cicada(["-f", scenario, "--headless", "-u", USERS, "-r", 1000, "-t", "2s",
                          "-H", nginx.url, "--only-summary"], timeout=30)
        lines = [st for _, uri, st in nginx.log_lines() if uri == "/slow"]
    assert run.returncode == 0, run.output
    assert lines and set(lines) == {200}, f"nginx logged {sorted(set(lines))}\n{run.output}"
    assert run.count("slow") == len(lines), run.output
    assert run.failures("slow") == 0, run.output
    assert cut_line(run) == 0, run.output
    assert nginx.count("/stop") == USERS, "on_stop did not run for every user"
    assert run.count("stop") == USERS


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("stop_timeout", [0, 2])
def test_request_unfinished_after_the_grace_is_cut(tmp_path, nginx, run_cicada, stop_timeout):
    """/slow takes 4 s, longer than the grace (1 s with -s 0, 2 s with -s 2):
    every request in flight is cut (nginx logs 499), shown as cut off, in no
    row, not a failure; exit code 0; on_stop still runs for every user."""
    scenario = write_scenario(tmp_path, SLOW)
    with demo_server(nginx.upstream_port, "--slow-delay", 4):
        run = run_cicada(["-f", scenario, "--headless", "-u", USERS, "-r", 1000, "-t", "1s",
                          "-H", nginx.url, "--only-summary", "--stop-timeout", stop_timeout],
                         timeout=30)
        lines = [st for _, uri, st in nginx.log_lines() if uri == "/slow"]
    assert run.returncode == 0, run.output
    assert lines == [499] * USERS, f"nginx logged {lines}\n{run.output}"
    assert run.count("slow") == 0 and run.failures("slow") == 0, run.output
    assert cut_line(run) == USERS, run.output
    assert nginx.count("/stop") == USERS, "on_stop did not run for every user"
    assert run.count("stop") == USERS, run.output
    grace = stop_timeout or 1
    assert run.duration < 1 + grace + 3.5, f"stopping took {run.duration:.1f} s"
    assert run.duration > 1 + grace - 0.2, "the requests were cut before the grace was over"


@pytest.mark.time_limit(60)
def test_cut_count_in_the_json_summary(tmp_path, nginx, cicada):
    """The web UI's JSON (/stats/requests) carries the cut-off count."""
    scenario = write_scenario(tmp_path, SLOW)
    port = free_port()
    with demo_server(nginx.upstream_port, "--slow-delay", 4):
        proc = subprocess.Popen([str(cicada), "-f", str(scenario), "--web-host", "127.0.0.1",
                                 "--web-port", str(port), "--autostart", "-u", "3", "-r", "100",
                                 "-t", "1s", "-H", nginx.url],
                                cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, 10, proc)
            deadline, data = time.monotonic() + 15, {}
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests",
                                            timeout=5) as r:
                    data = json.load(r)
                # each engine thread hands its figures over once a second
                if data.get("state") == "stopped" and data.get("cut_off") == 3:
                    break
                time.sleep(0.2)
        finally:
            stop_process(proc, signal.SIGTERM, timeout=10)
    assert data.get("state") == "stopped", data
    assert data.get("cut_off") == 3, data


MIXED = """\
local counts = {{}}
cicada.events.request:add_listener(function(ev)
  local k = ev.request_type .. "\\t" .. ev.name
  counts[k] = (counts[k] or 0) + 1
end)
cicada.events.quitting:add_listener(function()
  local f = assert(io.open("{out}/listener-" .. tostring(counts):gsub("[^%w]", "") .. ".tsv", "w"))
  for k, n in pairs(counts) do f:write(k, "\\t", n, "\\n") end
  f:close()
end)

Mix = cicada.user {{ wait_time = cicada.constant(0.005) }}
Mix:task(function(self) self.client:get("/a", {{ name = "plain" }}) end)
Mix:task(function(self) self.client:get("/b", {{ name = "implicit", catch_response = true }}) end)
Mix:task(function(self)
  local r = self.client:get("/c", {{ name = "success", catch_response = true }})
  r:success()
end)
Mix:task(function(self)
  local r = self.client:get("/fast", {{ name = "failure", catch_response = true }})
  r:failure("not good enough")
end)
Mix:task(function(self)
  self.client:get("/start", {{ name = "held", catch_response = true }}) -- settled by the next one
  self.client:get("/stop", {{ name = "next" }})
end)
Mix:task(function(self)
  self.client:get("/", {{ name = "root" }})
  cicada.report {{ type = "CUSTOM", name = "reported", response_time = 1, response_length = 3 }}
end)
"""

PATHS = {"plain": "/a", "implicit": "/b", "success": "/c", "failure": "/fast", "held": "/start",
         "next": "/stop", "root": "/"}


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("how", ["run-time", "sigint"])
def test_every_way_of_recording_counts_once(tmp_path, nginx, run_cicada, spawn_cicada, how):
    scenario = write_scenario(tmp_path, MIXED.format(out=tmp_path))
    args = ["-f", scenario, "--headless", "-u", USERS, "-r", 1000, "-H", nginx.url,
            "--only-summary", "--threads", 2]
    if how == "run-time":
        run = run_cicada(args + ["-t", "3s"], timeout=30)
    else:
        proc, finish = spawn_cicada(args + ["-t", "60s"])
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        run = finish(timeout=20)
    assert run.returncode == 1, run.output  # the failure() rows
    agg = assert_complete_csvs(run, list(PATHS) + ["reported"])
    served = {}
    for _, uri, st in nginx.log_lines():
        if st != 499:
            served[uri.split("?", 1)[0]] = served.get(uri.split("?", 1)[0], 0) + 1
    for name, path in PATHS.items():
        assert run.count(name) == served.get(path, 0) > 0, (name, path, served, run.output)
    assert run.count("reported") == served["/"]
    assert run.failures("failure") == run.count("failure")
    assert int(agg["Failure Count"]) == run.count("failure")
    # the listeners (one per engine VM) saw each request exactly once
    seen = {}
    files = list(tmp_path.glob("listener-*.tsv"))
    assert len(files) == 2, f"expected one listener file per engine: {files}"
    for f in files:
        for line in f.read_text().splitlines():
            method, name, n = line.split("\t")
            seen[(method, name)] = seen.get((method, name), 0) + int(n)
    csv_counts = {(r["Type"], r["Name"]): int(r["Request Count"]) for r in run.csv["stats"][:-1]}
    assert seen == csv_counts


STUCK = """\
Stuck = cicada.user {{ wait_time = cicada.constant(0.01) }}
function Stuck:on_stop() self.client:get("/stop", {{ name = "stop" }}) end
Stuck:task(function(self)
  self.client:get("/a", {{ name = "A" }})
  self.n = (self.n or 0) + 1
  if self.id == 1 and self.n == 20 then
    {body}
  end
end)
"""

BODIES = {
    # compiled by the JIT: no hook ever runs in it
    "spin": "local x = 0 while true do x = x + 1 end",
    # grows past the 1 GiB per-VM limit, which turns it into an exception
    # (bounded at 2 GB so that a build without the limit does not eat the
    # machine's memory)
    "alloc": "local t = {} for i = 1, 20 do t[i] = string.rep('x', 100000000 + i) end",
}


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("how", ["run-time", "sigint-twice"])
@pytest.mark.parametrize("kind", ["spin", "alloc"])
def test_task_that_never_yields_cannot_hang_the_run(tmp_path, nginx, run_cicada, spawn_cicada,
                                                    how, kind):
    """User 1 makes 20 requests, then spins (or allocates) forever. The
    process still ends quickly, and the CSVs hold every request nginx
    served, the stuck user's 20 too. A spinning user holds its whole engine
    thread, so it is alone on it and user 2 runs on the other; the users
    that share an engine with one that allocates lose nothing either."""
    scenario = write_scenario(tmp_path, STUCK.format(body=BODIES[kind]))
    users = 2 if kind == "spin" else 8
    args = ["-f", scenario, "--headless", "-u", users, "-r", 100, "-H", nginx.url,
            "--only-summary", "--threads", 2 if kind == "spin" else 1]
    if how == "run-time":
        run = run_cicada(args + ["-t", "3s"], timeout=30)
        assert run.duration < 3 + 5, f"the run took {run.duration:.1f} s"
    else:
        proc, finish = spawn_cicada(args + ["-t", "60s"])
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        run = finish(timeout=20)
        assert time.monotonic() - sent < 4, "a second Ctrl-C did not end the process"
    assert_complete_csvs(run, ["A"])
    served = nginx.count("/a")
    assert served > 20
    assert run.count("A") == served, run.output
    if kind == "spin":
        assert run.returncode == 0, run.output
        assert re.search(r"engine thread \d is stuck .*task \S*scenario\.lua:3", run.stderr), run.output
    else:
        assert run.returncode == 1, run.output
        assert any("not enough memory" in r["Message"] for r in run.csv["exceptions"]), run.output
        if how == "run-time":  # the users stopped cleanly: on_stop ran
            assert nginx.count("/stop") == users == run.count("stop"), run.output


@pytest.mark.time_limit(60)
def test_thread_away_from_its_loop_is_named(tmp_path, nginx, run_cicada):
    """A thread that has not come back to its loop for 5 s is named in a
    warning with the task's file:line."""
    scenario = write_scenario(tmp_path, STUCK.format(body=BODIES["spin"]))
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 100, "-H", nginx.url,
                      "--only-summary", "--threads", 2, "-t", "7s"], timeout=30)
    m = re.search(r"engine thread \d has not come back to its loop for (\d+) s: user 1, "
                  r"task \S*scenario\.lua:3", run.stderr)
    assert m and int(m.group(1)) >= 5, run.output
    assert run.count("A") == nginx.count("/a")


SLEEPY = """\
Sleepy = cicada.user { wait_time = cicada.constant(0) }
function Sleepy:on_stop() self.client:get("/stop", { name = "stop" }) end
Sleepy:task(function(self)
  self.client:get("/a", { name = "A" })
  cicada.sleep(30)
  self.client:get("/b", { name = "B" })
end)
"""


@pytest.mark.time_limit(60)
def test_stop_timeout_lets_tasks_run_then_ends_them(tmp_path, nginx, run_cicada):
    """-s 1: tasks asleep inside a task may go on for 1 s (Locust's
    semantics), then they end without a new request and on_stop runs."""
    scenario = write_scenario(tmp_path, SLEEPY)
    run = run_cicada(["-f", scenario, "--headless", "-u", USERS, "-r", 1000, "-t", "1s",
                      "-H", nginx.url, "--only-summary", "--stop-timeout", 1], timeout=30)
    assert run.returncode == 0, run.output
    assert run.duration < 1 + 1 + 3.5, f"stopping took {run.duration:.1f} s"
    assert run.duration > 1.8, "the tasks were not given the stop timeout"
    assert nginx.count("/a") == USERS == run.count("A")
    assert nginx.count("/b") == 0 and run.count("B") == 0
    assert nginx.count("/stop") == USERS == run.count("stop"), run.output


PARKED_SOCKET = r"""
Waiter = cicada.user { wait_time = cicada.constant(0) }
function Waiter:on_stop() cicada.report { type = "STOP", name = "on_stop", response_time = 0 } end
Waiter:task(1, function(self)
  local s = ngx.socket.tcp()
  s:settimeout(60000)
  assert(s:connect("127.0.0.1", tonumber(os.getenv("ECHO_PORT"))))
  s:send("SILENT\n")
  s:receive()   -- never answered
  cicada.report { type = "TCP", name = "after receive", response_time = 0 }
end)
"""


@pytest.mark.time_limit(60)
def test_socket_wait_is_cut_and_on_stop_runs(run_cicada, tmp_path):
    """A user parked on a cosocket receive the server never answers: after
    the grace its connection is closed, nothing after the receive runs, and
    on_stop runs."""
    from test_cosocket import EchoServer
    echo = EchoServer()
    try:
        env = dict(os.environ, ECHO_PORT=str(echo.port))
        run = run_cicada(["-f", write_scenario(tmp_path, PARKED_SOCKET), "--headless",
                          "-u", 5, "-r", 100, "-t", "1s"], env=env, timeout=20)
        assert run.returncode == 0, run.output
        assert run.duration < 6, f"stop took {run.duration:.1f} s"
        assert run.count("on_stop") == 5, run.output
        assert run.count("after receive") == 0, run.output
        deadline = time.monotonic() + 5
        while echo.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not echo.open, f"{len(echo.open)} connections left open"
    finally:
        echo.stop()
