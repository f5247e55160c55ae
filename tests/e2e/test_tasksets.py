"""Nested task sets and interrupt(reschedule), with Locust's semantics
(issue 8, item 9), checked against the order of requests in nginx's access
log.

- `self:interrupt()` in a task set ends that set only: its parent carries
  on (a sequential parent goes on to its next step), at depth 1, 2 and 3.
- `interrupt()` (reschedule) makes the parent pick its next task at once;
  `interrupt(false)` makes it wait its wait_time first.
- A user whose tasks never block (a task set that interrupts at once,
  picked again and again) still lets the engine run: it stops at -t, on
  SIGINT and on SIGTERM, and its on_stop runs.
"""

import signal
import time

import pytest

from conftest import write_scenario


def paths(nginx):
    return [uri.split("?", 1)[0] for _, uri, _ in nginx.log_lines()]


def nested_scenario(depth):
    """A sequential top set whose first step is a chain of `depth` nested
    sequential sets. Set k (1 = outermost) runs set k+1, then requests
    /Lk/after and interrupts; the deepest requests /Ld/1 and /Ld/2, then
    interrupts. Every set's on_stop requests /Lk/stop. The top set never
    interrupts: after the chain it requests /top/after."""
    lines = []
    for k in range(depth, 0, -1):
        lines.append(f"L{k} = cicada.sequential_taskset {{}}")
        lines.append(f'function L{k}:on_stop() self.client:get("/L{k}/stop") end')
        if k == depth:
            lines.append(f'L{k}:task(function(self) self.client:get("/L{k}/1") end)')
            lines.append(f'L{k}:task(function(self) self.client:get("/L{k}/2"); '
                         f'self:interrupt() end)')
        else:
            lines.append(f"L{k}:task(L{k + 1})")
            lines.append(f'L{k}:task(function(self) self.client:get("/L{k}/after"); '
                         f'self:interrupt() end)')
    lines.append("Top = cicada.sequential_taskset {}")
    lines.append("Top:task(L1)")
    lines.append('Top:task(function(self) self.client:get("/top/after") end)')
    lines.append("U = cicada.user { wait_time = cicada.constant(0) }")
    lines.append("U:task(Top)")
    return "\n".join(lines) + "\n"


def expected_cycle(depth):
    """One round of the top set, in Locust's order."""
    cycle = [f"/L{depth}/1", f"/L{depth}/2", f"/L{depth}/stop"]
    for k in range(depth - 1, 0, -1):
        cycle += [f"/L{k}/after", f"/L{k}/stop"]
    return cycle + ["/top/after"]


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_interrupt_returns_to_the_parent_only(nginx, run_cicada, tmp_path, depth):
    f = write_scenario(tmp_path, nested_scenario(depth))
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "1", "-r", "1", "-t", "2s",
                      "--threads", "1", "--only-summary"])
    assert run.returncode == 0, run.output
    got = paths(nginx)
    cycle = expected_cycle(depth)
    assert len(got) >= 5 * len(cycle), f"too few requests: {got[:20]}"
    # one user: the cycle over and over; the stop may cut the last round
    # short (a set's on_stop may or may not get its request in at stop)
    body = got[:-len(cycle)]
    for i, p in enumerate(body):
        assert p == cycle[i % len(cycle)], (
            f"request {i} is {p}, expected {cycle[i % len(cycle)]}: "
            f"{got[max(0, i - 6):i + 6]}")
    assert got.count("/top/after") >= 4, got[:20]


RESCHEDULE = """
Child = cicada.taskset {{}}
Child:task(function(self)
  self.user.left = cicada.now()
  self:interrupt({reschedule})
end)

Parent = cicada.sequential_taskset {{ wait_time = cicada.constant(0.4) }}
Parent:task(Child)
Parent:task(function(self)
  -- the time between leaving Child and the parent's next task
  cicada.report {{ name = "gap", response_time = (cicada.now() - self.user.left) * 1000 }}
end)

U = cicada.user {{ wait_time = cicada.constant(0) }}
U:task(Parent)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("reschedule,waits", [("true", False), ("false", True), ("", False)],
                         ids=["interrupt(true)", "interrupt(false)", "interrupt()"])
def test_interrupt_reschedule_decides_whether_the_parent_waits(run_cicada, tmp_path,
                                                                reschedule, waits):
    f = write_scenario(tmp_path, RESCHEDULE.format(reschedule=reschedule))
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "2", "-r", "10",
                      "-t", "3s", "--only-summary"])
    assert run.returncode == 0, run.output
    row = run.stats_row("gap")
    assert row is not None, f"the parent never reached its second step\n{run.output}"
    assert int(row["Request Count"]) >= 4, row
    if waits:
        # the parent's wait_time (0.4 s) comes first
        assert float(row["Min Response Time"]) >= 350, row
    else:
        assert float(row["Max Response Time"]) < 200, row


# Nothing here ever blocks: the set is entered, its task interrupts, and
# the user picks the set again at once (reschedule).
SPIN = """
Spin = cicada.taskset {}
local n = 0
Spin:task(function(self)
  n = n + 1
  if n % 1000 == 0 then cicada.report { name = "spins", response_time = 0 } end
  self:interrupt()
end)

U = cicada.user { wait_time = cicada.constant(0) }
U:task(Spin)
function U:on_stop() cicada.report { name = "on_stop", response_time = 0 } end
"""

USERS = 2


def assert_stopped_cleanly(run):
    assert run.returncode == 0, run.output
    assert run.count("spins") > 0, run.output
    assert run.count("on_stop") == USERS, f"on_stop did not run for every user\n{run.output}"
    assert "still running" not in run.stderr, run.output


@pytest.mark.time_limit(60)
def test_tasks_that_never_block_stop_at_the_run_time(run_cicada, tmp_path):
    f = write_scenario(tmp_path, SPIN)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", USERS, "-r", "10",
                      "-t", "1s", "--threads", "1", "--only-summary"], timeout=20)
    assert run.duration < 10, run.output
    assert_stopped_cleanly(run)


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_tasks_that_never_block_stop_on_a_signal(spawn_cicada, tmp_path, sig):
    f = write_scenario(tmp_path, SPIN)
    proc, finish = spawn_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", USERS,
                                 "-r", "10", "-t", "60s", "--threads", "1", "--only-summary"])
    time.sleep(1.5)
    assert proc.poll() is None, "cicada ended early"
    sent = time.monotonic()
    proc.send_signal(sig)
    run = finish(timeout=20)
    assert time.monotonic() - sent < 10, run.output
    assert_stopped_cleanly(run)
