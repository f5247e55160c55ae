"""--json FILE: the JSON summary written at the end of a run agrees with
the CSV files and with nginx's access log, and carries the exceptions,
the per-second history and the exit code."""
import json

import pytest

from conftest import write_scenario

SCENARIO = """\
J = cicada.user { wait_time = cicada.constant(0.01) }
J:task(2, function(self) self.client:get("/fast", { name = "fast" }) end)
J:task(1, function(self) self.client:get("/status404", { name = "missing" }) end)
J:task(1, function(self) error("boom") end)
"""


@pytest.mark.time_limit(60)
def test_json_summary_agrees_with_csv_and_server(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    out = tmp_path / "summary.json"
    run = run_cicada(["-f", scenario, "--headless", "-u", 5, "-r", 5, "-t", "2s",
                      "-H", nginx.url, "--only-summary", "--json", out], timeout=30)
    assert run.returncode == 1, run.output  # failures and an exception
    doc = json.loads(out.read_text())
    rows = {r["name"]: r for r in doc["stats"]}
    assert rows["fast"]["num_requests"] == run.count("fast", "GET") == nginx.count("/fast")
    assert rows["missing"]["num_failures"] == run.count("missing", "GET")
    assert rows["missing"]["num_failures"] == nginx.count("/status404", status=404) > 0
    assert rows["Aggregated"]["num_requests"] == int(run.stats_row("Aggregated")["Request Count"])
    assert any("boom" in e["msg"] for e in doc["exceptions"]), doc["exceptions"]
    assert len(doc["history"]) >= 1 and doc["exit_code"] == 1
    assert doc["state"] == "stopped" and doc["cut_off"] == 0


def test_json_unwritable_path_keeps_the_csvs(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "1s", "-H", nginx.url,
                      "--only-summary", "--json", tmp_path / "no" / "such" / "dir.json"], timeout=30)
    assert "cannot write" in run.stderr and "dir.json" in run.stderr, run.output
    assert int(run.stats_row("Aggregated")["Request Count"]) > 0
