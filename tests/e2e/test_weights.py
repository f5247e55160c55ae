"""Task weights and user class weights.

Task weights 3:1 must give a 3:1 ratio of executed tasks within 5% over at
least 10,000 tasks (at 10,000 tasks the standard error of the ratio is about
1.4%, so 5% is more than 3 standard errors; real runs have many more).
Class weights 3:1 with 8 users give exactly 6 and 2 users, as Locust does,
and a class named on the command line runs alone.
"""

import pytest

from conftest import write_scenario

TASKS = """\
Weighted = cicada.user { wait_time = cicada.constant(0) }

Weighted:task(3, function(self) self.client:get("/a", { name = "three" }) end)
Weighted:task(1, function(self) self.client:get("/b", { name = "one" }) end)
"""


@pytest.mark.time_limit(60)
def test_task_weights_3_to_1(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, TASKS)
    run = run_cicada(["-f", scenario, "--headless", "-u", 20, "-r", 20, "-t", "4s",
                      "-H", nginx.url, "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    three, one = run.count("three"), run.count("one")
    assert three + one >= 10_000, f"only {three + one} tasks ran in 4 s\n{run.output}"
    served = nginx.counts_by_path()
    assert (three, one) == (served.get("/a"), served.get("/b")), served
    ratio = three / one
    assert abs(ratio - 3) <= 0.05 * 3, f"task ratio {ratio:.4f} ({three}:{one}) not within 5% of 3"


CLASSES = """\
Heavy = cicada.user { weight = 3, wait_time = cicada.constant(0.2) }
function Heavy:on_start() self.client:get("/a", { name = "heavy start" }) end
Heavy:task(1, function(self) self.client:get("/fast", { name = "heavy" }) end)

Light = cicada.user { weight = 1, wait_time = cicada.constant(0.2) }
function Light:on_start() self.client:get("/b", { name = "light start" }) end
Light:task(1, function(self) self.client:get("/fast", { name = "light" }) end)
"""


@pytest.mark.time_limit(60)
def test_user_class_weights_3_to_1(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, CLASSES)
    run = run_cicada(["-f", scenario, "--headless", "-u", 8, "-r", 8, "-t", "2s",
                      "-H", nginx.url, "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    served = nginx.counts_by_path()
    assert (served.get("/a"), served.get("/b")) == (6, 2), served
    assert (run.count("heavy start"), run.count("light start")) == (6, 2)


@pytest.mark.time_limit(60)
def test_user_class_chosen_by_name(tmp_path, nginx, run_cicada):
    """Naming a class on the command line runs only that class, as Locust does."""
    scenario = write_scenario(tmp_path, CLASSES)
    run = run_cicada(["-f", scenario, "--headless", "-u", 4, "-r", 4, "-t", "2s",
                      "-H", nginx.url, "--only-summary", "Light"], timeout=30)
    assert run.returncode == 0, run.output
    served = nginx.counts_by_path()
    assert served.get("/b") == 4 and "/a" not in served, served
    assert run.count("light start") == 4 and run.stats_row("heavy start") is None
