"""The layers of one request (issue 9): every way a request is recorded
reaches the scenario's `request` listeners, including a catch_response
result the task never settled, recorded when the task ends."""
import pytest

from conftest import write_scenario


@pytest.mark.time_limit(60)
def test_unsettled_catch_response_reaches_request_listeners(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, """
cicada.events.request:add_listener(function(ev)
  if ev.name == "/held" or ev.name == "/next" then
    cicada.report{ type = "SEEN", name = ev.name, response_time = 0 }
    ev.exception = "failed by the listener"
  end
end)
U = cicada.user { wait_time = cicada.constant(0.05) }
-- settled by nobody: recorded when the task ends
U:task(function(self) self.client:get("/held", { catch_response = true }) end)
-- settled by nobody either: recorded when the next request starts
U:task(function(self)
  self.client:get("/next", { catch_response = true })
  self.client:get("/after")
end)
""")
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "100", "-t", "2s",
                      "--threads", "1"])
    assert run.returncode == 1, run.output  # the listener failed them
    for name in ("/held", "/next"):
        n = run.count(name, "GET")
        assert n > 0, run.output
        # the listener saw each one exactly once, and its verdict counted
        assert run.count(name, "SEEN") == n, (name, run.output)
        assert run.failures(name, "GET") == n, (name, run.output)
    assert run.failures("/after", "GET") == 0, run.output


@pytest.mark.time_limit(90)
def test_stopping_many_users_is_linear(run_cicada, tmp_path):
    """Stopping walks the users once (each_user): 100,000 users whose
    on_stop waits stop in seconds. The walk used to look every user up
    from the head of the list, O(n^2) when they stay alive (here: on_stop
    sleeps), which took about a minute for this run."""
    f = write_scenario(tmp_path, """
Idle = cicada.user { wait_time = cicada.constant(3600) }
function Idle:on_start() cicada.sleep(3600) end
Idle:task(function(self) cicada.sleep(3600) end)
function Idle:on_stop() cicada.sleep(0.2) end
""")
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "100000",
                      "-r", "1000000", "-t", "2s", "--threads", "1"],
                     timeout=40)
    assert run.returncode == 0, run.output
    # the bound is wide (the stop itself takes about a second here)
    assert run.duration < 30, run.duration
