"""Request counts per name equal what nginx really served, exactly.

Nothing measured may be dropped: the final _stats.csv holds every request up
to the last one (Locust 2.12.1 misses about the last second), so each name's
Request Count must equal the number of lines for its path in nginx's access
log, and the Aggregated row their sum.
"""

import pytest

from conftest import assert_complete_csvs, demo_server, write_scenario

SCENARIO = """\
Counter = cicada.user { wait_time = cicada.constant(0) }

function Counter:on_start()
  self.client:get("/start", { name = "start" })
end

Counter:task(3, function(self) self.client:get("/a", { name = "A" }) end)
Counter:task(2, function(self) self.client:get("/b?user=" .. self.id, { name = "B" }) end)
Counter:task(1, function(self) self.client:post("/c", { name = "C", data = "x=1" }) end)
"""


@pytest.mark.time_limit(60)
def test_counts_per_name_equal_access_log(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    run = run_cicada(["-f", scenario, "--headless", "-u", 20, "-r", 20, "-t", "3s",
                      "-H", nginx.url, "--threads", 2, "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    agg = assert_complete_csvs(run, ["start", "A", "B", "C"])
    served = nginx.counts_by_path()
    assert set(served) == {"/start", "/a", "/b", "/c"}, served
    assert run.count("start", "GET") == served["/start"] == 20
    assert run.count("A", "GET") == served["/a"]
    assert run.count("B", "GET") == served["/b"]
    assert run.count("C", "POST") == served["/c"]
    assert int(agg["Request Count"]) == sum(served.values())
    assert int(agg["Failure Count"]) == 0
    assert sum(served.values()) > 1000, f"suspiciously little traffic: {served}"


FAILING = """\
Mixed = cicada.user { wait_time = cicada.constant(0.001) }

Mixed:task(1, function(self) self.client:get("/fast") end)
Mixed:task(1, function(self) self.client:get("/status404") end)
"""


@pytest.mark.time_limit(60)
def test_failure_counts_equal_access_log(tmp_path, nginx, run_cicada):
    """Unnamed requests are grouped by path; every 404 is a failure with
    Locust's HTTPError text, and the counts match the access log."""
    scenario = write_scenario(tmp_path, FAILING)
    run = run_cicada(["-f", scenario, "--headless", "-u", 10, "-r", 10, "-t", "2s",
                      "-H", nginx.url, "--only-summary"], timeout=30)
    assert run.returncode == 1, f"failures must give exit code 1\n{run.output}"
    agg = assert_complete_csvs(run, ["/fast", "/status404"])
    served_404 = nginx.count("/status404", status=404)
    served_fast = nginx.count("/fast", status=200)
    assert served_404 > 0 and served_fast > 0
    assert run.count("/status404", "GET") == served_404
    assert run.failures("/status404", "GET") == served_404
    assert run.count("/fast", "GET") == served_fast
    assert run.failures("/fast", "GET") == 0
    assert int(agg["Failure Count"]) == served_404

    rows = run.csv["failures"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["Method"], row["Name"]) == ("GET", "/status404"), row
    assert "404 Client Error: Not Found for url" in row["Error"], row
    assert int(row["Occurrences"]) == served_404


SLOW = """\
Slow = cicada.user { wait_time = cicada.constant(0) }
Slow:task(1, function(self) self.client:get("/slow", { name = "slow" }) end)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("stop_timeout", [0, 5])
def test_requests_in_flight_at_stop_are_counted(tmp_path, nginx, cicada, run_cicada, stop_timeout):
    """Every user has a request in flight when the 1 s run time is up: the
    demo site's /slow (through nginx, so that it is logged) takes 4 s. With
    --stop-timeout 5 they complete and count as successes; with 0 they get
    the 1 s grace, then are cut off (nginx logs 499): neither successes nor
    failures, counted apart, and the exit code stays 0. Either way the
    counts equal nginx's log (test_stop.py has the rest of the stop rule)."""
    scenario = write_scenario(tmp_path, SLOW)
    with demo_server(nginx.upstream_port, "--slow-delay", 4):
        run = run_cicada(["-f", scenario, "--headless", "-u", 10, "-r", 1000, "-t", "1s",
                          "-H", nginx.url, "--only-summary", "--stop-timeout", stop_timeout],
                         timeout=30)
        lines = [st for _, uri, st in nginx.log_lines() if uri == "/slow"]
    assert len(lines) == 10, f"nginx logged {sorted(lines)}\n{run.output}"
    assert run.count("slow") == sum(st != 499 for st in lines), run.output
    assert run.failures("slow") == 0, run.output
    assert run.returncode == 0, run.output
    if stop_timeout:
        assert run.returncode == 0, run.output
        assert set(lines) == {200}, f"requests were cut off despite --stop-timeout: {lines}"
        assert run.duration > 3.8, "cicada did not wait for the requests in flight"
    else:
        assert set(lines) == {499}, f"requests were not cut off at --stop-timeout 0: {lines}"
        assert "10 requests cut off at stop" in run.stdout, run.output
        assert run.duration < 4, f"--stop-timeout 0 took {run.duration:.1f} s"


BODIES = """\
Bodies = cicada.user { wait_time = cicada.constant(0) }
Bodies:task(1, function(self)
  local r = self.client:get("/big", { name = "big" })
  if #r.text ~= 1048576 then error("short body: " .. #r.text) end
end)
Bodies:task(1, function(self) self.client:get("/", { name = "root" }) end)
"""


@pytest.mark.time_limit(60)
def test_content_size_of_large_and_small_bodies(tmp_path, nginx, run_cicada):
    """A 1 MiB static file and a 17-byte body: every byte arrives, and the
    Average Content Size is exact."""
    scenario = write_scenario(tmp_path, BODIES)
    run = run_cicada(["-f", scenario, "--headless", "-u", 4, "-r", 4, "-t", "2s",
                      "-H", nginx.url, "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    served = nginx.counts_by_path()
    assert run.count("big") == served["/big"] > 0
    assert run.count("root") == served["/"] > 0
    assert float(run.stats_row("big")["Average Content Size"]) == 1048576.0
    assert float(run.stats_row("root")["Average Content Size"]) == 17.0
    assert not run.csv["exceptions"], run.csv["exceptions"]
