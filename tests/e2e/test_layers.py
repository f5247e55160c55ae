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
