"""Coroutines in tasks (issue 8, item 10).

A user is a coroutine that only cicada resumes. cicada supports the
scenario's own coroutines (generators, coroutine.wrap iterators): a request
or a sleep inside one parks the whole user until it is done, so the task
sees the response and the wait_time comes after the task, as without the
coroutine. coroutine.yield() in a task itself (not inside a coroutine the
scenario created) would park the user with nothing to wake it: it is an
exception naming the call, and the user goes on.
"""

import time

import pytest

from conftest import write_scenario


def paths(nginx):
    return [uri.split("?", 1)[0] for _, uri, _ in nginx.log_lines()]


GENERATOR = """
U = cicada.user { wait_time = cicada.constant(0.5) }
U:task(function(self)
  -- a generator that makes requests between its yields
  local steps = coroutine.wrap(function(x)
    local r = self.client:get("/a")
    x = coroutine.yield("a:" .. r.status_code .. ":" .. x)
    cicada.sleep(0.1)
    r = self.client:get("/b")
    coroutine.yield("b:" .. r.status_code .. ":" .. x)
    return "done"
  end)
  local got = { steps("x1"), steps("x2"), steps() }
  local want = { "a:200:x1", "b:200:x2", "done" }
  for i = 1, 3 do
    if got[i] ~= want[i] then
      error(("step %d: got %s, want %s"):format(i, tostring(got[i]), want[i]))
    end
  end
  cicada.report { name = "generator ok", response_time = 0 }
end)
"""


@pytest.mark.time_limit(60)
def test_requests_inside_a_coroutine_park_the_user(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, GENERATOR)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "1", "-r", "1", "-t", "3s",
                      "--threads", "1", "--only-summary"])
    assert run.returncode == 0, run.output
    got = paths(nginx)
    # a task takes about 0.1 s, then the user waits 0.5 s: 4 to 6 in 3 s
    assert 3 <= got.count("/a") <= 7, f"wait_time not applied: {len(got)} requests\n{run.output}"
    assert got == ["/a", "/b"] * (len(got) // 2) + ["/a"] * (len(got) % 2), got
    ok = run.count("generator ok")
    assert ok >= got.count("/a") - 1, run.output
    assert run.count("/a", "GET") == got.count("/a")


BARE_YIELD = """
U = cicada.user { wait_time = cicada.constant(0.1) }
U:task(function(self)
  self.client:get("/a")
  coroutine.yield()
  self.client:get("/never")
end)
"""


@pytest.mark.time_limit(60)
def test_bare_yield_in_a_task_is_an_exception_not_a_hang(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, BARE_YIELD)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "10", "-t", "2s",
                      "--only-summary"])
    assert run.returncode == 1, run.output  # exceptions make the exit code 1
    got = paths(nginx)
    assert got.count("/a") >= 10, f"the users got stuck: {got}"
    assert "/never" not in got
    excs = run.csv["exceptions"]
    assert len(excs) == 1, excs
    assert "coroutine.yield() called outside a coroutine" in excs[0]["Message"], excs
    assert int(excs[0]["Count"]) == got.count("/a"), (excs, len(got))


STOP_INSIDE = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self)
  local co = coroutine.create(function() self.client:get("/a"); cicada.sleep(60) end)
  local ok, err = coroutine.resume(co)  -- a stop cannot be swallowed here
  cicada.report { name = "resume returned", response_time = 0 }
end)
function U:on_stop() cicada.report { name = "on_stop", response_time = 0 } end
"""


@pytest.mark.time_limit(60)
def test_a_user_parked_inside_a_coroutine_stops(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, STOP_INSIDE)
    start = time.monotonic()
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "3", "-r", "10", "-t", "1s",
                      "--only-summary"], timeout=20)
    assert time.monotonic() - start < 10, run.output
    assert run.returncode == 0, run.output
    assert paths(nginx).count("/a") == 3
    assert run.count("on_stop") == 3, run.output
    assert run.count("resume returned") == 0, run.output


SHARED = """
local shared  -- one coroutine for all users, parked on a sleep by the first
U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(function(self)
  if shared == nil or coroutine.status(shared) == "dead" then
    shared = coroutine.create(function() cicada.sleep(0.3); self.client:get("/a") end)
  end
  local ok, err = coroutine.resume(shared)
  if not ok then cicada.report { name = "refused", response_time = 0, exception = err } end
end)
"""


@pytest.mark.time_limit(60)
def test_a_coroutine_parked_by_another_user_cannot_be_resumed(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, SHARED)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "10", "-t", "2s",
                      "--threads", "1", "--only-summary"])
    assert run.failures("refused") > 0, run.output
    errs = run.csv["failures"]
    assert any("waiting for a request or a sleep" in e["Error"] for e in errs), errs
    assert not run.csv["exceptions"], run.output
