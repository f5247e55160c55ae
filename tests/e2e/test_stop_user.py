"""cicada.stop_user() and cicada.reschedule(), Locust's StopUser and
RescheduleTask (issue 13, item 7), checked through nginx's access log and
the statistics.

- stop_user() in a task ends that user: the task set it is in runs its
  on_stop, then the user's on_stop, and the user is gone (the user count
  drops, it is not replaced) while the other users go on. It is not an
  exception.
- reschedule() ends the task at once, from any depth of calls: the rest of
  the task does not run, nothing is counted as an error, and the user picks
  its next task (after its wait_time; reschedule{ wait = false }: at once).
"""

import pytest

from conftest import write_scenario

STOP_USER = """
Quitter = cicada.user { weight = 1, fixed_count = 1, wait_time = cicada.constant(0.05) }
local function deep() cicada.stop_user() end
Set = cicada.taskset {}
function Set:on_stop() self.client:get("/set/stop") end
Set:task(function(self)
  self.client:get("/quitter/task")
  cicada.sleep(1.5)
  deep()
  self.client:get("/never")
end)
Quitter:task(Set)
function Quitter:on_stop() self.client:get("/quitter/stop") end

Stayer = cicada.user { weight = 1, wait_time = cicada.constant(0.05) }
Stayer:task(function(self) self.client:get("/stayer") end)
function Stayer:on_stop() self.client:get("/stayer/stop") end
"""


@pytest.mark.time_limit(60)
def test_stop_user_ends_that_user_only(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, STOP_USER)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "3", "-r", "30", "-t", "4s",
                      "--threads", "1", "--only-summary"])
    assert run.returncode == 0, run.output
    c = nginx.counts_by_path()
    # the fixed Quitter ran its task once, then set and user on_stop, once each
    assert c.get("/quitter/task") == 1, c
    assert c.get("/set/stop") == 1, c
    assert c.get("/quitter/stop") == 1, c
    assert "/never" not in c, c
    # the two others went on to the end
    assert c.get("/stayer", 0) > 20, c
    assert c.get("/stayer/stop") == 2, c
    assert not run.csv["exceptions"], run.csv["exceptions"]
    # the user count dropped from 3 to 2 and stayed there (until the stop)
    users = [int(r["User Count"]) for r in run.csv["stats_history"] if r["Name"] == "Aggregated"]
    users = [n for n in users if n > 0]
    assert 3 in users and users[-1] == 2, users
    assert 3 not in users[users.index(2):], users


GAP = """
U = cicada.user {{ wait_time = cicada.constant(0.4) }}
local left
local function deep() cicada.reschedule({opts}) end
U:task(function(self)
  if left then cicada.report {{ name = "gap", response_time = (cicada.now() - left) * 1000 }} end
  self.client:get("/before")
  left = cicada.now()
  deep()
  self.client:get("/after")      -- never reached
end)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("opts,waits", [("", True), ("{ wait = false }", False)],
                         ids=["reschedule()", "reschedule{wait=false}"])
def test_reschedule_ends_the_task_at_once(nginx, run_cicada, tmp_path, opts, waits):
    f = write_scenario(tmp_path, GAP.format(opts=opts))
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "1", "-r", "10", "-t", "2s",
                      "--threads", "1", "--only-summary"])
    assert run.returncode == 0, run.output
    c = nginx.counts_by_path()
    assert c.get("/before", 0) >= 3, c
    assert "/after" not in c, c
    assert not run.csv["exceptions"], run.csv["exceptions"]
    assert not run.csv["failures"], run.csv["failures"]
    row = run.stats_row("gap")
    assert row is not None, run.output
    if waits:
        assert float(row["Min Response Time"]) >= 350, row  # the wait_time came first
    else:
        assert float(row["Max Response Time"]) < 200, row


ON_START = """
Early = cicada.user { wait_time = cicada.constant(0.05) }
function Early:on_start()
  self.client:get("/early/start")
  cicada.stop_user()
  self.client:get("/never")
end
Early:task(function(self) self.client:get("/early/task") end)
function Early:on_stop() self.client:get("/early/stop") end
"""


@pytest.mark.time_limit(60)
def test_stop_user_in_on_start_skips_the_tasks(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, ON_START)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "10", "-t", "2s",
                      "--only-summary"])
    assert run.returncode == 0, run.output
    c = nginx.counts_by_path()
    assert c == {"/early/start": 2, "/early/stop": 2}, c
