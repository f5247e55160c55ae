"""The scenario language end to end (issue 4): task sets in order,
interrupt, tags, fixed_count, events and load shapes, against a real nginx
whose access log tells what the users really did."""

import pytest

from conftest import write_scenario


def uris(nginx):
    return [uri for _, uri, _ in nginx.log_lines()]


@pytest.mark.time_limit(60)
def test_sequential_task_set_runs_in_order(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
local Seq = cicada.sequential_taskset {}
Seq:task(function(self) self.client:get("/a?step=1") end)
Seq:task(function(self) self.client:get("/a?step=2") end)
Seq:task(function(self) self.client:get("/a?step=3"); self:interrupt() end)
U = cicada.user { wait_time = cicada.constant(0) }
U:task(Seq)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "1", "-r", "1", "-t", "2s",
                      "--threads", "1"])
    assert run.returncode == 0, run.output
    steps = [u.split("step=")[1] for u in uris(nginx) if "step=" in u]
    assert len(steps) > 30, steps[:10]
    # one user: 1, 2, 3, 1, 2, 3, ... with only the last cycle cut short
    for i, s in enumerate(steps):
        assert s == str(i % 3 + 1), f"step {i} is {s}: {steps[max(0, i - 5):i + 5]}"


@pytest.mark.time_limit(60)
def test_nested_task_sets_interrupt_returns_to_parent(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
local Inner = cicada.taskset {}
function Inner:on_start() self.client:get("/a?ev=inner_start") end
function Inner:on_stop() self.client:get("/a?ev=inner_stop") end
Inner:task(5, function(self) self.client:get("/a?ev=inner_task") end)
Inner:task(1, function(self) self.client:get("/a?ev=inner_interrupt"); self:interrupt() end)

local Top = cicada.taskset {}
Top:task(1, Inner)
Top:task(1, function(self) self.client:get("/a?ev=top_task") end)

U = cicada.user { wait_time = cicada.constant(0) }
U:task(Top)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "1", "-r", "1", "-t", "2s",
                      "--threads", "1"])
    assert run.returncode == 0, run.output
    evs = [u.split("ev=")[1] for u in uris(nginx) if "ev=" in u]
    assert evs.count("inner_interrupt") > 10, evs[:20]
    assert evs.count("top_task") > 10, evs[:20]
    inside = False
    for i, ev in enumerate(evs):
        ctx = evs[max(0, i - 4):i + 4]
        if ev == "inner_start":
            assert not inside, f"inner set started twice: {ctx}"
            inside = True
        elif ev in ("inner_task", "inner_interrupt"):
            assert inside, f"inner task outside the inner set: {ctx}"
        elif ev == "inner_stop":
            # on_stop runs right after the interrupting task
            assert inside and evs[i - 1] == "inner_interrupt", f"bad stop: {ctx}"
            inside = False
        elif ev == "top_task":
            assert not inside, f"parent task while the inner set runs: {ctx}"


@pytest.mark.time_limit(90)
@pytest.mark.parametrize("flags,want,unwanted", [
    ([], {"plain", "shop-task", "set-task", "admin"}, set()),
    (["-T", "shop"], {"shop-task", "set-task"}, {"plain", "admin"}),
    (["-E", "shop"], {"plain", "admin"}, {"shop-task", "set-task"}),
    (["-T", "admin", "-E", "shop"], {"admin"}, {"plain", "shop-task", "set-task"}),
])
def test_tags_filter_tasks_and_task_sets(nginx, run_cicada, tmp_path, flags, want, unwanted):
    f = write_scenario(tmp_path, """
local Shop = cicada.taskset { tags = { "shop" } }   -- tags on a set apply to its tasks
Shop:task(function(self) self.client:get("/b", { name = "set-task" }); self:interrupt() end)
U = cicada.user { wait_time = cicada.constant(0.01) }
U:task(function(self) self.client:get("/a", { name = "plain" }) end)
U:task{ function(self) self.client:get("/a", { name = "shop-task" }) end, tags = { "shop" } }
U:task(cicada.tag("admin", function(self) self.client:get("/c", { name = "admin" }) end))
U:task(Shop)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "10", "-t", "2s"]
                     + flags)
    assert run.returncode == 0, run.output
    for name in want:
        assert run.count(name) > 0, f"{name} did not run with {flags}\n{run.output}"
    for name in unwanted:
        assert run.count(name) == 0, f"{name} ran with {flags}\n{run.output}"


@pytest.mark.time_limit(60)
def test_fixed_count_and_weights(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
Admin = cicada.user { fixed_count = 1, wait_time = cicada.constant(3600) }
function Admin:on_start() self.client:get("/a?cls=admin") end
Admin:task(function(self) end)
Shopper = cicada.user { weight = 1, wait_time = cicada.constant(3600) }
function Shopper:on_start() self.client:get("/a?cls=shopper") end
Shopper:task(function(self) end)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "7", "-r", "100", "-t", "2s"])
    assert run.returncode == 0, run.output
    got = uris(nginx)
    assert got.count("/a?cls=admin") == 1, got
    assert got.count("/a?cls=shopper") == 6, got


@pytest.mark.time_limit(60)
def test_events_fire_and_request_listener_can_fail_requests(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
local function mark(name) cicada.report{ type = "EVENT", name = name, response_time = 0 } end
cicada.events.test_start:add_listener(function() mark("test_start") end)
cicada.events.spawning_complete:add_listener(function(n) mark("spawning_complete " .. n) end)
cicada.events.test_stop:add_listener(function() mark("test_stop") end)
cicada.events.request:add_listener(function(ev)
  if ev.name == "/b" then ev.exception = "too slow for us" end
  if ev.name == "/a" and ev.request_type == "GET" then
    cicada.report{ type = "SEEN", name = "a", response_time = ev.response_time }
  end
end)
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(function(self) self.client:get("/a"); self.client:get("/b") end)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "3", "-r", "100", "-t", "2s",
                      "--threads", "2"])
    assert run.returncode == 1, run.output  # the listener failed /b
    # events fire once in each engine thread's VM
    assert run.count("test_start", "EVENT") == 2, run.output
    assert run.count("spawning_complete 3", "EVENT") == 2, run.output
    assert run.count("test_stop", "EVENT") == 2, run.output
    # the listener saw every request and could fail it
    assert run.count("a", "SEEN") == run.count("/a", "GET") > 0, run.output
    assert run.failures("/b", "GET") == run.count("/b", "GET") > 0, run.output
    errors = {r["Error"] for r in run.csv["failures"]}
    assert errors == {"too slow for us"}, errors


@pytest.mark.time_limit(60)
def test_load_shape_drives_the_user_count(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(function(self) self.client:get("/a") end)
cicada.shape(cicada.stages{
  { duration = 3, users = 2, spawn_rate = 50 },
  { duration = 6, users = 6, spawn_rate = 50 },
})
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless"], timeout=30)
    assert run.returncode == 0, run.output
    assert "Shape test stopping" in run.stderr, run.output
    assert 5 <= run.duration < 12, run.duration  # the shape ended the run
    users = [int(r["User Count"]) for r in run.csv["stats_history"] if r["Name"] == "Aggregated"]
    assert 2 in users[:3], users
    assert 6 in users[3:], users
    assert max(users) == 6, users


def test_shape_rejects_users_and_rate_flags(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
U = cicada.user {}
U:task(function(self) end)
cicada.shape(function(t) return 1, 1 end)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "3"], csv=False)
    assert run.returncode != 0, run.output
    assert "load shape" in run.stderr and "-u/--users" in run.stderr, run.output
