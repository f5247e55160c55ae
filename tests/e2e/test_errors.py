"""Lua errors: what is recorded, and what the console shows (issue 8,
items 11 and 12).

- An error value is recorded as Lua prints it: error(nil) is "nil",
  error(42) "file:line: 42", a table its __tostring or "(error object is
  a table value)" (never an address, which would make each occurrence a
  row of its own). A failing __tostring or a stack overflow is recorded
  too, and never ends the user.
- A Lua error shows in the console (stderr, or the --logfile), as Locust
  logs a traceback: the first occurrence of each distinct error in full,
  then only counts ("(N more times, T in total)"), headless and with the
  web UI. Engines only count; the main thread prints.
"""

import re

import pytest

from conftest import free_port, write_scenario

VALUES = """
local Seq = cicada.sequential_taskset {}
Seq:task(function(self) error(nil) end)
Seq:task(function(self) error({ code = 1 }) end)
Seq:task(function(self) error(42) end)
Seq:task(function(self) error(true) end)
Seq:task(function(self) error(setmetatable({}, { __tostring = function() return "custom text" end })) end)
Seq:task(function(self) error(setmetatable({}, { __tostring = function() error("boom") end })) end)
Seq:task(function(self) error(setmetatable({}, { __tostring = function() return nil end })) end)
local function deep(n) return 1 + deep(n + 1) end
Seq:task(function(self) deep(1) end)
Seq:task(function(self) self.client:get("/alive") end)
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(Seq)
"""


@pytest.mark.time_limit(60)
def test_error_values_are_recorded_as_lua_prints_them(nginx, run_cicada, tmp_path):
    f = write_scenario(tmp_path, VALUES)
    run = run_cicada(["-f", f, "-H", nginx.url, "--headless", "-u", "2", "-r", "10", "-t", "3s",
                      "--only-summary"])
    assert run.returncode == 1, run.output
    alive = nginx.count("/alive")
    # every user went round its set several times: no error ended a user
    assert alive >= 2 * 3, f"users ended early: {alive} /alive\n{run.output}"
    excs = run.csv["exceptions"]
    msgs = {e["Message"] for e in excs}
    for bad in ("_exception", "table: 0x", "bad argument"):
        assert not any(bad in m for m in msgs), msgs
    assert "nil" in msgs, msgs
    assert "true" in msgs, msgs
    assert "custom text" in msgs, msgs
    assert any(re.fullmatch(r".*scenario\.lua:5: 42", m) for m in msgs), msgs
    tables = [e for e in excs if e["Message"] == "(error object is a table value)"]
    assert len(tables) == 3, excs  # one row per line that raises one, not per occurrence
    # 9 tasks in the set, 8 of them errors: one row each, except the stack
    # overflow's, which LuaJIT reports as "stack overflow" or as "error in
    # error handling", at depths (tracebacks) that vary with its stack and
    # JIT state: one or more rows, all of them of those two kinds
    overflow = [e for e in excs if "stack overflow" in e["Message"]
                or "error in error handling" in e["Message"]]
    assert overflow, excs
    assert len(excs) - len(overflow) == 7, excs
    total = sum(int(e["Count"]) for e in excs)
    assert total >= 8 * (alive - 2), (total, alive)


NIL_INDEX = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self)
  local t = nil
  return t.field
end)
"""

TWO_ERRORS = """
U = cicada.user { wait_time = cicada.constant(0.01) }
U:task(function(self) error("first kind of error") end)
U:task(function(self) error("second kind of error") end)
"""


def full_tracebacks(text, message):
    """Lines that start a full report of `message` (the next line is the
    traceback's header)."""
    lines = text.splitlines()
    return [i for i, l in enumerate(lines)
            if l.endswith(message) and i + 1 < len(lines)
            and lines[i + 1] == "stack traceback:"]


def count_lines(text, message):
    return re.findall(re.escape(message) + r" \((\d+) more times, (\d+) in total\)", text)


@pytest.mark.time_limit(60)
def test_a_lua_error_is_shown_once_in_full_then_counted(run_cicada, tmp_path):
    f = write_scenario(tmp_path, NIL_INDEX)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "2", "-r", "10",
                      "-t", "2s", "--only-summary"])
    assert run.returncode == 1, run.output
    msg = "scenario.lua:5: attempt to index local 't' (a nil value)"
    full = full_tracebacks(run.stderr, msg)
    assert len(full) == 1, run.stderr
    tb = run.stderr.splitlines()[full[0]:full[0] + 4]
    assert "/ERROR/" in tb[0] and "scenario.lua:5: in function" in "\n".join(tb), tb
    (row,) = run.csv["exceptions"]
    n = int(row["Count"])
    assert n > 1000, row  # nothing blocks: many errors, yet few lines
    counts = count_lines(run.stderr, msg)
    assert counts, run.stderr
    more, total = counts[-1]
    assert int(total) == n and int(more) <= n - 1, (counts, n)
    assert len(run.stderr.splitlines()) < 30, run.stderr


@pytest.mark.time_limit(60)
def test_each_distinct_error_is_shown(run_cicada, tmp_path):
    f = write_scenario(tmp_path, TWO_ERRORS)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "2", "-r", "10",
                      "-t", "2s", "--only-summary"])
    assert run.returncode == 1, run.output
    assert len(full_tracebacks(run.stderr, "scenario.lua:3: first kind of error")) == 1, run.stderr
    assert len(full_tracebacks(run.stderr, "scenario.lua:4: second kind of error")) == 1, \
        run.stderr


NO_HOST = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self) self.client:get("/") end)
"""


@pytest.mark.time_limit(60)
def test_a_class_with_no_host_says_why(run_cicada, tmp_path):
    f = write_scenario(tmp_path, NO_HOST)
    run = run_cicada(["-f", f, "--headless", "-u", "1", "-r", "1", "-t", "1s", "--only-summary"])
    assert run.returncode == 1, run.output
    assert len(full_tracebacks(run.stderr, "the user has no host (set host in cicada.user{...} "
                                           "or pass -H)")) == 1, run.stderr


@pytest.mark.time_limit(60)
def test_errors_go_to_the_logfile(run_cicada, tmp_path):
    f = write_scenario(tmp_path, NIL_INDEX)
    log = tmp_path / "cicada.log"
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-r", "1",
                      "-t", "1s", "--only-summary", "--logfile", log])
    assert run.returncode == 1, run.output
    text = log.read_text()
    msg = "scenario.lua:5: attempt to index local 't' (a nil value)"
    assert len(full_tracebacks(text, msg)) == 1, text
    assert count_lines(text, msg), text


@pytest.mark.time_limit(60)
def test_errors_show_with_the_web_ui(run_cicada, tmp_path):
    f = write_scenario(tmp_path, NIL_INDEX)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--autostart", "-u", "1", "-r", "1",
                      "-t", "1s", "--autoquit", "0", "--web-host", "127.0.0.1",
                      "--web-port", free_port()])
    msg = "scenario.lua:5: attempt to index local 't' (a nil value)"
    assert len(full_tracebacks(run.stderr, msg)) == 1, run.output


LISTENER = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self) cicada.report { name = "x", response_time = 1 } end)
cicada.events.request:add_listener(function(ev) local t = nil; return t.x end)
"""


@pytest.mark.time_limit(60)
def test_an_error_in_a_request_listener_is_counted_not_logged_per_request(run_cicada, tmp_path):
    f = write_scenario(tmp_path, LISTENER)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "2", "-r", "10",
                      "-t", "2s", "--only-summary"])
    n = run.count("x")
    assert n > 1000, run.output
    msg = "scenario.lua:4: attempt to index local 't' (a nil value)"
    (i,) = full_tracebacks(run.stderr, msg)
    assert "error in request listener: " in run.stderr.splitlines()[i], run.stderr
    assert len(run.stderr.splitlines()) < 30, run.stderr[:3000]
    (row,) = run.csv["exceptions"]
    assert row["Message"].startswith("error in request listener: "), row
    assert row["Message"].endswith(msg) and int(row["Count"]) == n, row
