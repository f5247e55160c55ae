"""Stopping a run with a signal still writes complete CSVs.

- SIGINT (or SIGTERM) in the middle of a run: users stop (on_stop runs),
  then the final CSVs are written, and they hold every request nginx
  served, up to the last one.
- A second SIGINT while users are stopping exits at once, and still writes
  what was measured.
"""

import signal
import time

import pytest

from conftest import assert_complete_csvs, write_scenario

USERS = 10

SCENARIO = """\
Sig = cicada.user {{ wait_time = cicada.constant(0.01) }}

function Sig:on_start() self.client:get("/start", {{ name = "start" }}) end
function Sig:on_stop()
  self.client:get("/stop", {{ name = "stop" }})
  {on_stop_extra}
end

Sig:task(1, function(self) self.client:get("/a", {{ name = "A" }}) end)
"""


def wait_spawned(nginx, proc, timeout=15):
    """Wait until every user has made its on_start request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"cicada exited early with {proc.returncode}"
        if nginx.count("/start", settle=0) >= USERS:
            return
        time.sleep(0.05)
    raise AssertionError(f"users did not all start within {timeout} s")


def args_for(scenario, nginx, extra=()):
    return ["-f", scenario, "--headless", "-u", USERS, "-r", USERS, "-t", "60s",
            "-H", nginx.url, "--only-summary", *extra]


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_writes_complete_csvs(tmp_path, nginx, spawn_cicada, sig):
    scenario = write_scenario(tmp_path, SCENARIO.format(on_stop_extra=""))
    proc, finish = spawn_cicada(args_for(scenario, nginx))
    wait_spawned(nginx, proc)
    time.sleep(1.5)
    sent = time.monotonic()
    proc.send_signal(sig)
    run = finish(timeout=15)
    assert time.monotonic() - sent < 10, "stopping took too long"
    assert run.returncode == 0, run.output
    agg = assert_complete_csvs(run, ["start", "A", "stop"])
    served = nginx.counts_by_path()
    assert served["/start"] == USERS
    assert served["/stop"] == USERS, f"on_stop did not run for every user: {served}"
    assert run.count("start") == USERS
    assert run.count("stop") == USERS
    assert run.count("A") == served["/a"] > 100
    assert int(agg["Request Count"]) == sum(served.values())
    assert int(agg["Failure Count"]) == 0


@pytest.mark.time_limit(60)
def test_second_sigint_exits_at_once_and_writes_csvs(tmp_path, nginx, spawn_cicada):
    # on_stop makes its request, then sleeps far longer than the test allows.
    scenario = write_scenario(tmp_path, SCENARIO.format(on_stop_extra="cicada.sleep(30)"))
    proc, finish = spawn_cicada(args_for(scenario, nginx, ["--stop-timeout", 60]))
    wait_spawned(nginx, proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    time.sleep(1.5)
    assert proc.poll() is None, "cicada did not wait for on_stop (sleeping 30 s) to finish"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    run = finish(timeout=10)
    assert time.monotonic() - sent < 3, "a second SIGINT must exit at once"
    assert run.returncode >= 0, f"killed by signal {-run.returncode}\n{run.output}"
    agg = assert_complete_csvs(run, ["start", "A", "stop"])
    served = nginx.counts_by_path()
    assert served["/stop"] == USERS
    assert run.count("stop") == USERS
    assert run.count("A") == served["/a"]
    assert int(agg["Request Count"]) == sum(served.values())
