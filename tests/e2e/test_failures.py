"""Failures and exceptions are counted, with their messages.

- catch_response: response:failure(msg) makes a failure whose error holds
  msg; response:success() turns an HTTP error into a success.
- A Lua error in a task is an exception (count, message, traceback naming
  the scenario's file and line) and the user carries on.
- A dead target (a port nobody listens on) gives connection-refused
  failures and exit code 1; a target that answers garbage gives failures,
  one per request, and the run goes on.
"""

import socket
import threading

import pytest

from conftest import assert_complete_csvs, free_port, write_scenario

CATCH = """\
Checker = cicada.user { wait_time = cicada.constant(0.01) }

Checker:task(1, function(self)
  local r = self.client:get("/fast", { name = "content check", catch_response = true })
  if not r.text:find("zzz") then r:failure("no 'zzz' in body") end
end)

Checker:task(1, function(self)
  local r = self.client:get("/status404", { name = "accepted 404", catch_response = true })
  if r.status_code == 404 then r:success() end
end)

Checker:task(1, function(self)
  self.client:get("/b", { name = "before error" })
  local t = nil
  return t.field  -- line 16: attempt to index a nil value
end)

Checker:task(1, function(self)
  self.client:get("/c", { name = "before raise" })
  error("boom from task")
end)
"""


@pytest.mark.time_limit(60)
def test_catch_response_and_exceptions(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, CATCH, "checker.lua")
    run = run_cicada(["-f", scenario, "--headless", "-u", 4, "-r", 4, "-t", "3s",
                      "-H", nginx.url, "--only-summary", "--exit-code-on-error", 3], timeout=30)
    assert run.returncode == 3, f"--exit-code-on-error 3 with failures must exit 3\n{run.output}"
    assert_complete_csvs(run, ["content check", "accepted 404", "before error", "before raise"])
    served = nginx.counts_by_path()

    # Every content check failed, with the scenario's message. A user
    # stopped at the end of the run between a response and the code after
    # it may not get to run that code: allow one such task per user (4).
    checks = served["/fast"]
    assert run.count("content check") == checks > 0
    assert checks - 4 <= run.failures("content check") <= checks
    fails = {(r["Method"], r["Name"]): r for r in run.csv["failures"]}
    assert set(fails) == {("GET", "content check")}, run.csv["failures"]
    row = fails[("GET", "content check")]
    assert "no 'zzz' in body" in row["Error"], row
    assert int(row["Occurrences"]) == run.failures("content check")

    # success() overrides the 404.
    assert run.count("accepted 404") == served["/status404"] > 0
    assert run.failures("accepted 404") == 0

    # Lua errors are exceptions, one per task run, and the users go on.
    excs = run.csv["exceptions"]
    assert len(excs) == 2, excs
    by_msg = {}
    for e in excs:
        if "boom from task" in e["Message"]:
            by_msg["raise"] = e
        elif "nil" in e["Message"]:
            by_msg["index"] = e
    assert set(by_msg) == {"raise", "index"}, excs
    assert served["/c"] - 4 <= int(by_msg["raise"]["Count"]) <= served["/c"]
    assert served["/b"] - 4 <= int(by_msg["index"]["Count"]) <= served["/b"]
    assert int(by_msg["raise"]["Count"]) > 1 and int(by_msg["index"]["Count"]) > 1
    assert "checker.lua:16" in by_msg["index"]["Message"] + by_msg["index"]["Traceback"]
    assert "checker.lua:21" in by_msg["raise"]["Message"] + by_msg["raise"]["Traceback"]
    for e in excs:
        assert e["Traceback"].strip(), f"empty traceback: {e}"
    # Exceptions are not request failures.
    assert run.failures("before error") == 0 and run.failures("before raise") == 0


DEAD = """\
Dead = cicada.user { wait_time = cicada.constant(0.05) }
Dead:task(1, function(self) self.client:get("/fast", { name = "dead" }) end)
"""


@pytest.mark.time_limit(60)
def test_dead_target_gives_connection_refused(tmp_path, run_cicada):
    port = free_port()  # nothing listens here
    scenario = write_scenario(tmp_path, DEAD)
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "2s",
                      "-H", f"http://127.0.0.1:{port}", "--only-summary"], timeout=30)
    assert run.returncode == 1, run.output
    assert_complete_csvs(run, ["dead"])
    n = run.count("dead")
    assert n > 2, f"the users should keep trying: {n} requests\n{run.output}"
    assert run.failures("dead") == n
    rows = run.csv["failures"]
    assert rows, "no failure rows"
    assert all(r["Name"] == "dead" and r["Method"] == "GET" for r in rows), rows
    assert sum(int(r["Occurrences"]) for r in rows) == n
    for r in rows:
        err = r["Error"]
        assert "ConnectionRefusedError" in err or "Connection refused" in err, r


class GarbageServer:
    """Answers every request on 127.0.0.1 with bytes that are not HTTP, then closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.served = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    if conn.recv(65536):
                        conn.sendall(b"this is not HTTP at all\r\n\r\n")
                        self.served += 1
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.time_limit(60)
def test_garbage_response_is_a_failure(tmp_path, run_cicada):
    server = GarbageServer()
    try:
        scenario = write_scenario(tmp_path, DEAD.replace('"dead"', '"garbage"'))
        run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "2s",
                          "-H", f"http://127.0.0.1:{server.port}", "--only-summary"], timeout=30)
    finally:
        server.stop()
    assert run.returncode == 1, run.output
    assert_complete_csvs(run, ["garbage"])
    n = run.count("garbage")
    assert n > 2 and run.failures("garbage") == n, run.output
    assert n == server.served, f"cicada counted {n}, the server answered {server.served}"
    assert run.csv["failures"] and all(r["Error"] for r in run.csv["failures"])
