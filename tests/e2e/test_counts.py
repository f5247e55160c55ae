"""Request counts per name equal what nginx really served, exactly.

Nothing measured may be dropped: the final _stats.csv holds every request up
to the last one (Locust 2.12.1 misses about the last second), so each name's
Request Count must equal the number of lines for its path in nginx's access
log, and the Aggregated row their sum.
"""

import pytest

from conftest import assert_complete_csvs, write_scenario

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
