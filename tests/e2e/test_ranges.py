"""Huge, negative and nonsense numbers (issue 8, items 5 and 14).

Every number a user gives cicada has a stated range (docs/cli.md "Numeric
ranges"). On the command line a value out of range is a usage error naming
the flag (exit 2, before anything runs); inside a scenario, sleeps and
request timeouts longer than a year are cut to a year and NaN or a
timeout <= 0 is a Lua error naming the call. Before the fix, `-t
999999999h` ended the run at once with exit 0, `cicada.sleep(1e10)` and
`timeout = 1e10` overflowed into deadlines in the past (the sleep returned
at once, the request failed at once with ReadTimeout), a spawn rate of
1e25 ran with 0 users, and a negative timeout silently meant none.
"""

import socket
import threading

import pytest

from conftest import write_scenario

pytestmark = pytest.mark.time_limit(60)


def usage_error(run, *args):
    r = run(list(args), timeout=15, csv=False)
    assert r.returncode == 2, r.output
    assert "cicada: error: argument" in r.stderr, r.output
    return r


def test_run_time_above_a_year_is_a_usage_error(run_cicada, tmp_path, nginx):
    f = write_scenario(tmp_path, f'U = cicada.user {{ host = "{nginx.url}" }}\n'
                                 'U:task(1, function(self) self.client:get("/fast") end)\n')
    r = usage_error(run_cicada, "-f", f, "--headless", "-u", "1", "-t", "999999999h")
    assert "-t/--run-time: invalid value '999999999h'" in r.stderr, r.output
    assert "365 days" in r.stderr
    assert nginx.count() == 0, "nothing may run after a usage error"


@pytest.mark.parametrize("args, named", [
    (["-r", "1e25"], "-r/--spawn-rate: invalid value '1e25'"),
    (["-u", "99999999999999999999"], "-u/--users: invalid value '99999999999999999999'"),
    (["-s", "1e300"], "-s/--stop-timeout: invalid value '1e300'"),
    (["--autoquit", "99999999999"], "--autoquit: invalid value '99999999999'"),
])
def test_numbers_out_of_range_are_usage_errors(run_cicada, tmp_path, args, named):
    f = write_scenario(tmp_path, 'U = cicada.user { host = "http://127.0.0.1:1" }\n'
                                 'U:task(1, function(self) cicada.sleep(1) end)\n')
    r = usage_error(run_cicada, "-f", f, "--headless", "-t", "1s", *args)
    assert named in r.stderr, r.output


def test_a_user_count_that_cannot_fit_in_memory_is_refused(run_cicada, tmp_path):
    avail = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) * 1024
    if avail > 100_000_000 * 2048:
        pytest.skip("this machine could hold 100,000,000 idle users")
    f = write_scenario(tmp_path, 'U = cicada.user { host = "http://127.0.0.1:1" }\n'
                                 'U:task(1, function(self) cicada.sleep(1) end)\n')
    r = usage_error(run_cicada, "-f", f, "--headless", "-u", "100000000", "-t", "1s")
    assert "argument -u/--users: 100000000 users need at least" in r.stderr, r.output
    assert "MemAvailable" in r.stderr


def test_the_largest_spawn_rate_starts_every_user(run_cicada, tmp_path):
    f = write_scenario(tmp_path, 'U = cicada.user { host = "http://127.0.0.1:1" }\n'
                                 'U:task(1, function(self) cicada.sleep(1) end)\n')
    r = run_cicada(["-f", f, "--headless", "-u", "50", "-r", "1000000", "-t", "1s"],
                   timeout=20, csv=False)
    assert r.returncode == 0, r.output
    assert '(50 total users)' in r.stderr, r.output


SLEEPERS = """\
A = cicada.user {{ host = "{url}", wait_time = cicada.constant(0) }}
A:task(1, function(self)
  cicada.sleep(1e10)
  self.client:get("/after_1e10")
end)
B = cicada.user {{ host = "{url}", wait_time = cicada.constant(0) }}
B:task(1, function(self)
  cicada.sleep(math.huge)
  self.client:get("/after_huge")
end)
C = cicada.user {{ host = "{url}", wait_time = cicada.constant(0) }}
C:task(1, function(self)
  cicada.sleep(-5)  -- a negative sleep waits 0, as gevent.sleep
  self.client:get("/after_negative")
  cicada.sleep(0.2)
end)
"""


def test_huge_sleeps_wait_and_negative_ones_do_not(run_cicada, tmp_path, nginx):
    f = write_scenario(tmp_path, SLEEPERS.format(url=nginx.url))
    r = run_cicada(["-f", f, "--headless", "-u", "3", "-r", "100", "-t", "2s"], timeout=30)
    assert r.returncode == 0, r.output
    seen = nginx.counts_by_path()
    # before the fix the sleeps overflowed into the past and returned at once
    assert seen.get("/after_1e10", 0) == 0, seen
    assert seen.get("/after_huge", 0) == 0, seen
    assert seen.get("/after_negative", 0) >= 3, seen
    assert r.count("/after_negative") == seen["/after_negative"]


class Silent:
    """A server that accepts connections and reads, but never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.done:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.done = True
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = Silent()
    try:
        yield s
    finally:
        s.close()


def test_huge_request_timeouts_do_not_fire_at_once(run_cicada, tmp_path, silent):
    f = write_scenario(tmp_path, f"""\
U = cicada.user {{ host = "http://127.0.0.1:{silent.port}", wait_time = cicada.constant(0.1) }}
U:task(1, function(self) self.client:get("/t1e10", {{ timeout = 1e10 }}) end)
U:task(1, function(self) self.client:get("/thuge", {{ timeout = math.huge }}) end)
""")
    r = run_cicada(["-f", f, "--headless", "-u", "4", "-r", "100", "-t", "2s"], timeout=30)
    errors = [row["Error"] for row in r.csv.get("failures", [])]
    # before the fix: ReadTimeout('read timed out (read timeout=1e+10)') within milliseconds
    assert not any("timed out" in e for e in errors), f"{errors}\n{r.output}"


BAD_NUMBERS = """\
U = cicada.user {{ host = "{url}", wait_time = cicada.constant(0.05) }}
U:task(1, function(self) self.client:get("/negative", {{ timeout = -1 }}) end)
U:task(1, function(self) self.client:get("/zero", {{ timeout = 0 }}) end)
U:task(1, function(self) self.client:get("/nan", {{ timeout = 0/0 }}) end)
U:task(1, function(self) cicada.sleep(0/0) end)
U:task(1, function(self) self.client:get("/fine", {{ timeout = 5 }}) end)
"""


def test_nonsense_timeouts_and_sleeps_are_lua_errors(run_cicada, tmp_path, nginx):
    f = write_scenario(tmp_path, BAD_NUMBERS.format(url=nginx.url))
    r = run_cicada(["-f", f, "--headless", "-u", "2", "-r", "100", "-t", "2s"], timeout=30)
    seen = nginx.counts_by_path()
    # before the fix a timeout <= 0 meant none and the requests went out
    for path in ("/negative", "/zero", "/nan"):
        assert seen.get(path, 0) == 0, seen
    assert seen.get("/fine", 0) > 0, seen
    msgs = " | ".join(row["Message"] for row in r.csv.get("exceptions", []))
    assert "timeout = -1: a number of seconds above 0 expected" in msgs, msgs
    assert "timeout = 0: a number of seconds above 0 expected" in msgs, msgs
    assert "timeout = nan" in msgs or "timeout = -nan" in msgs, msgs
    assert "cicada.sleep(nan)" in msgs, msgs


PCT_COLUMNS = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")


def test_no_percentile_above_max(run_cicada, tmp_path):
    """Item 13: every request took exactly 3001.4 ms (cicada.report gives the
    exact time), so no column may show more; before the fix the histogram
    bucket's midpoint, 3006, filled every percentile column."""
    f = write_scenario(tmp_path, """\
U = cicada.user { host = "http://127.0.0.1:1", wait_time = cicada.constant(0.2) }
U:task(1, function(self)
  cicada.report{ type = "GET", name = "slow", response_time = 3001.4, response_length = 1 }
end)
""")
    r = run_cicada(["-f", f, "--headless", "-u", "2", "-r", "10", "-t", "3s", "--csv-full-history"],
                   timeout=30)
    assert r.returncode == 0, r.output
    for row in r.csv["stats"]:
        assert float(row["Max Response Time"]) == 3001.4, row
        for col in PCT_COLUMNS:
            assert int(row[col]) == 3001, (col, row)
    hist = [row for row in r.csv["stats_history"] if row["100%"] != "N/A"]
    assert hist, r.csv["stats_history"]
    for row in hist:
        for col in PCT_COLUMNS:
            assert int(row[col]) <= 3001, (col, row)
    # the console's percentile table
    table = r.stdout[r.stdout.rfind("Response time percentiles"):]
    assert "3006" not in table and "3001" in table, table


def test_a_shape_out_of_range_ends_the_test_with_the_reason(run_cicada, tmp_path):
    """A load shape's users and rate have -u's and -r's ranges: 1e20 users
    ends the test with an error naming the values (before the fix the
    count overflowed a long and the shape ran with 0 users)."""
    f = write_scenario(tmp_path, """\
U = cicada.user { host = "http://127.0.0.1:1", wait_time = cicada.constant(1) }
U:task(1, function(self) cicada.sleep(1) end)
cicada.shape(function(run_time)
  if run_time < 1 then return 2, 10 end
  if run_time < 8 then return 1e20, 10 end
  return nil
end)
""")
    r = run_cicada(["-f", f, "--headless"], timeout=30)
    assert "load shape: returned 1e+20 users at 10/s (at most 100000000 users" in r.stderr, \
        r.output
    assert r.duration < 6, f"the test went on after the shape's error\n{r.output}"


def test_report_refuses_numbers_out_of_range(run_cicada, tmp_path):
    """cicada.report's response_time and response_length become integers:
    NaN, 1e300 or a negative length are Lua errors naming the field, not
    an overflow (before the fix 1e300 bytes became a negative size)."""
    f = write_scenario(tmp_path, """\
U = cicada.user { host = "http://127.0.0.1:1", wait_time = cicada.constant(0.1) }
U:task(1, function(self) cicada.report{ name = "bad_len", response_time = 5, response_length = 1e300 } end)
U:task(1, function(self) cicada.report{ name = "neg_len", response_time = 5, response_length = -3 } end)
U:task(1, function(self) cicada.report{ name = "nan_rt", response_time = 0/0 } end)
U:task(1, function(self) cicada.report{ name = "huge_rt", response_time = 1e300 } end)
U:task(1, function(self) cicada.report{ name = "none_rt", response_time = -1, response_length = 7 } end)
""")
    r = run_cicada(["-f", f, "--headless", "-u", "2", "-r", "100", "-t", "2s"], timeout=30)
    names = {row["Name"] for row in r.csv["stats"]}
    assert names & {"bad_len", "neg_len", "nan_rt", "huge_rt"} == set(), r.csv["stats"]
    assert r.count("none_rt") > 0
    msgs = " | ".join(row["Message"] for row in r.csv.get("exceptions", []))
    assert "cicada.report: response_length = 1e+300 is out of range" in msgs, msgs
    assert "cicada.report: response_length = -3 is out of range" in msgs, msgs
    assert "cicada.report: response_time = nan" in msgs or "response_time = -nan" in msgs, msgs
    assert "cicada.report: response_time = 1e+300 is out of range" in msgs, msgs
