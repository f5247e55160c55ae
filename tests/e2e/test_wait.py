"""wait_time functions hold their rates within 10%.

Each task makes one request, so the number of requests is the number of
tasks. Expected = users x run time / period: constant_pacing(0.1) and
constant_throughput(10) run a task every 0.1 s per user whatever the task
takes (here it also sleeps 40 ms, which constant_pacing must absorb);
between(0.05, 0.15) waits 0.1 s on average after each task, and the task
itself takes well under a millisecond on loopback. The design margin is
large: 10 users x 4 s at 10/s gives 400 tasks, the spawn takes 10 ms,
and the random waits of between() have a standard deviation of about 1.5%
of the total.
"""

import pytest

from conftest import write_scenario

USERS = 10
RUN_TIME = 4.0

CASES = {
    "constant_pacing": ("cicada.constant_pacing(0.1)", 0.04, 0.1),
    "constant_throughput": ("cicada.constant_throughput(10)", 0.04, 0.1),
    "between": ("cicada.between(0.05, 0.15)", 0.0, 0.1),
}

SCENARIO = """\
Paced = cicada.user {{ wait_time = {wait} }}

Paced:task(1, function(self)
  self.client:get("/fast", {{ name = "paced" }})
  if {sleep} > 0 then cicada.sleep({sleep}) end
end)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("case", list(CASES))
def test_wait_time_rate(tmp_path, nginx, run_cicada, case):
    wait, sleep, period = CASES[case]
    scenario = write_scenario(tmp_path, SCENARIO.format(wait=wait, sleep=sleep))
    # -r 1000: all users start within 10 ms (at -r 10 the spawn would take 1 s).
    run = run_cicada(["-f", scenario, "--headless", "-u", USERS, "-r", 1000,
                      "-t", f"{RUN_TIME:g}s", "-H", nginx.url, "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    got = run.count("paced")
    assert got == nginx.count("/fast")
    expected = USERS * RUN_TIME / period
    assert abs(got - expected) <= 0.10 * expected, (
        f"{case}: {got} tasks in {RUN_TIME} s with {USERS} users, expected {expected:.0f} ±10%"
    )
