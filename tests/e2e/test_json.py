"""JSON results. --json prints Locust 2.x's JSON statistics (a list of
stats entries, StatsEntry.serialize()'s keys) on stdout, with the console
tables on stderr; --json-file PREFIX writes the same to PREFIX.json; their
counts equal the CSV's and nginx's. --summary-json FILE writes cicada's
end-of-run document (totals, every row with all its percentiles, errors,
exceptions, cut-off/late/dropped counts, thresholds, exit code), which
agrees with the CSV files and nginx's access log. (The old `--json FILE`,
cicada's summary, became --summary-json: issue 11.)"""
import json

import pytest

from conftest import write_scenario

SCENARIO = """\
J = cicada.user { wait_time = cicada.constant(0.01) }
J:task(2, function(self) self.client:get("/fast", { name = "fast" }) end)
J:task(1, function(self) self.client:get("/status404", { name = "missing" }) end)
J:task(1, function(self) error("boom") end)
"""

# Locust 2.x's StatsEntryDict
LOCUST_KEYS = {"name", "method", "last_request_timestamp", "start_time", "num_requests",
               "num_none_requests", "num_failures", "total_response_time", "max_response_time",
               "min_response_time", "total_content_length", "response_times",
               "num_reqs_per_sec", "num_fail_per_sec"}


@pytest.mark.time_limit(60)
def test_json_stdout_and_file_in_locusts_shape(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    run = run_cicada(["-f", scenario, "--headless", "-u", 5, "-r", 5, "-t", "2s",
                      "-H", nginx.url, "--json", "--json-file", tmp_path / "res"], timeout=30)
    assert run.returncode == 1, run.output  # failures and an exception
    entries = json.loads(run.stdout)  # stdout is the document alone
    assert isinstance(entries, list) and entries
    assert "Aggregated" in run.stderr and "Response time percentiles" in run.stderr
    assert json.loads((tmp_path / "res.json").read_text()) == entries
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == {"fast", "missing"}  # Locust lists the rows, not Aggregated
    for e in entries:
        assert set(e) == LOCUST_KEYS, set(e) ^ LOCUST_KEYS
        assert e["method"] == "GET"
        assert sum(e["response_times"].values()) == e["num_requests"] - e["num_none_requests"]
        assert e["min_response_time"] <= e["max_response_time"]
    fast, missing = by_name["fast"], by_name["missing"]
    assert fast["num_requests"] == run.count("fast", "GET") == nginx.count("/fast") > 0
    assert fast["num_failures"] == 0
    assert missing["num_failures"] == run.failures("missing", "GET")
    assert missing["num_failures"] == nginx.count("/status404", status=404) > 0
    total = sum(e["num_requests"] for e in entries)
    assert total == int(run.stats_row("Aggregated")["Request Count"]) == nginx.count()
    assert sum(fast["num_reqs_per_sec"].values()) == fast["num_requests"]  # a 2 s run fits the ring


@pytest.mark.time_limit(60)
def test_summary_json_agrees_with_csv_and_server(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    out = tmp_path / "summary.json"
    run = run_cicada(["-f", scenario, "--headless", "-u", 5, "-r", 5, "-t", "2s",
                      "-H", nginx.url, "--only-summary", "--summary-json", out,
                      "--threshold", "p95(fast)<10000"], timeout=30)
    assert run.returncode == 1, run.output  # failures and an exception
    doc = json.loads(out.read_text())
    assert doc["version"] == 1 and doc["state"] == "stopped" and doc["exit_code"] == 1
    rows = {r["name"]: r for r in doc["rows"]}
    assert rows["fast"]["num_requests"] == run.count("fast", "GET") == nginx.count("/fast")
    assert rows["missing"]["num_failures"] == nginx.count("/status404", status=404) > 0
    assert doc["totals"]["name"] == "Aggregated"
    assert doc["totals"]["num_requests"] == int(run.stats_row("Aggregated")["Request Count"])
    pcts = ["50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"]
    for r in [doc["totals"], *doc["rows"]]:
        assert list(r["percentiles"]) == pcts or sorted(r["percentiles"]) == sorted(pcts)
        vals = [r["percentiles"][k] for k in pcts]
        assert vals == sorted(vals) and vals[-1] <= r["max_response_time"] + 1e-9
    csv_fast = run.stats_row("fast", "GET")
    assert rows["fast"]["percentiles"]["50"] == pytest.approx(float(csv_fast["50%"]), abs=1)
    assert any(e["error"].startswith("HTTPError('404") for e in doc["errors"]), doc["errors"]
    assert any("boom" in e["msg"] for e in doc["exceptions"]), doc["exceptions"]
    assert doc["cut_off"] == 0 and doc["late"] == 0 and doc["dropped"] == 0
    assert doc["thresholds_ok"] is True
    [t] = doc["thresholds"]
    assert t["rule"] == "p95(fast)<10000" and t["name"] == "fast" and t["ok"] is True
    assert t["value"] == pytest.approx(rows["fast"]["percentiles"]["95"])
    assert len(doc["history"]) >= 1


def test_summary_json_unwritable_path_keeps_the_csvs(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "1s", "-H", nginx.url,
                      "--only-summary", "--summary-json", tmp_path / "no" / "such" / "dir.json"],
                     timeout=30)
    assert "cannot write" in run.stderr and "dir.json" in run.stderr, run.output
    assert int(run.stats_row("Aggregated")["Request Count"]) > 0


def test_json_takes_no_file(tmp_path, run_cicada):
    run = run_cicada(["--json=out.json", "--headless"], timeout=15, csv=False)
    assert run.returncode == 2 and "argument --json: ignored explicit argument" in run.stderr
