"""Thresholds (--threshold, cicada.thresholds) and the exit codes they
decide: every metric passes and fails against a target of known latency
(nginx in front of `cicada demo-server`, whose /slow answers after 50 ms),
exit codes 0/1/3 and --exit-code-on-threshold, abort-on-fail ending a run
long before -t, thresholds on a master over its two workers' merged
figures, and malformed rules refused with exit code 2 naming them."""
import json
import re

import pytest

from conftest import demo_server, free_port, read_csvs, write_scenario
from test_dist import master_cmd, procs, worker_cmd  # noqa: F401 (procs is a fixture)

SLOW = """\
U = cicada.user { wait_time = cicada.constant(0.02) }
U:task(3, function(self) self.client:get("/slow?delay=0.05", { name = "slow" }) end)
U:task(1, function(self) self.client:get("/fast", { name = "fast" }) end)
"""

PCTS = ["p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99"]
TIMES = ["avg", "min", "median", *PCTS]

# (rule that passes, rule that fails) for every metric; the slow row's
# times are 50 ms (plus nginx and the loop: under 500 ms), the run has no
# failure, no open model (dropped and late are 0) and tens of requests/s.
RULES = [(f"{m}(slow)>=45", f"{m}(slow)<45") for m in TIMES] + [
    ("max(slow)<2000", "max(slow)<45"),
    ("p95(fast)<45", "p95(fast)>=45"),  # the name picks the row
    ("rps>2", "rps<=2"),
    ("fail_ratio<0.01", "fail_ratio>=0.01"),
    ("fail_rps<=0", "fail_rps>0"),
    ("requests>20", "requests<=20"),
    ("requests(slow)>10", "requests(slow)<=10"),
    ("failures<1", "failures>=1"),
    ("dropped<1", "dropped>=1"),
    ("late<=0", "late>0"),
]


def thresholds_args(rules):
    out = []
    for r in rules:
        out += ["--threshold", r]
    return out


def summary(path):
    doc = json.loads(path.read_text())
    return doc, {t["rule"]: t for t in doc["thresholds"]}


@pytest.mark.time_limit(90)
def test_every_metric_passes_and_fails(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, SLOW)
    with demo_server(nginx.upstream_port):
        for passing, code in ((True, 0), (False, 3)):
            rules = [p if passing else f for p, f in RULES]
            out = tmp_path / f"summary-{passing}.json"
            run = run_cicada(["-f", scenario, "--headless", "-u", 3, "-r", 3, "-t", "3s",
                              "-H", nginx.url, "--only-summary", "--summary-json", out,
                              *thresholds_args(rules)], timeout=30)
            assert run.returncode == code, run.output
            doc, by_rule = summary(out)
            assert set(by_rule) == set(rules) and doc["exit_code"] == code
            assert doc["thresholds_ok"] is passing
            for r in rules:
                assert by_rule[r]["ok"] is passing, (r, by_rule[r], run.output)
                assert by_rule[r]["source"] == "command line"
            # the values are the run's figures, in ms / per second
            slow = int(run.stats_row("slow")["Request Count"])
            assert by_rule["requests(slow)>10" if passing else "requests(slow)<=10"]["value"] == slow
            for m in TIMES:
                v = by_rule[f"{m}(slow)>=45" if passing else f"{m}(slow)<45"]["value"]
                assert 45 <= v < 500, (m, v)
            # the console summary lists every rule with its verdict
            verdict = "pass" if passing else "FAIL"
            for r in rules:
                assert re.search(rf"^  {verdict}  {re.escape(r)} ", run.stdout, re.M), (r, run.stdout)


FAILING = """\
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(function(self) self.client:get("/status500", { name = "bad" }) end)
U:task(function(self) self.client:get("/fast", { name = "fast" }) end)
"""

CLEAN = """\
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(function(self) self.client:get("/fast", { name = "fast" }) end)
"""


@pytest.mark.time_limit(90)
def test_exit_codes(tmp_path, nginx, run_cicada):
    failing = write_scenario(tmp_path, FAILING, "failing.lua")
    clean = write_scenario(tmp_path, CLEAN, "clean.lua")

    def code(scenario, *extra):
        run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "1s",
                          "-H", nginx.url, "--only-summary", *extra], timeout=30, csv=False)
        return run.returncode, run

    assert code(clean)[0] == 0
    assert code(clean, "--threshold", "requests>1")[0] == 0
    assert code(failing)[0] == 1  # Locust's rule: failed requests
    assert code(failing, "--exit-code-on-error", 5)[0] == 5
    assert code(failing, "--threshold", "requests>1")[0] == 1  # rules pass: failures decide
    rc, run = code(failing, "--threshold", "fail_ratio<0.1")
    assert rc == 3, run.output  # a failed threshold wins over failures
    assert "FAIL  fail_ratio<0.1" in run.stdout and "1 of 1 threshold failed" in run.stdout
    assert code(clean, "--threshold", "requests<1")[0] == 3
    assert code(clean, "--threshold", "requests<1", "--exit-code-on-threshold", 7)[0] == 7
    assert code(failing, "--threshold", "p95(fast)<0.001", "--exit-code-on-threshold", 0)[0] == 0


ABORT = """\
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(function(self) self.client:get("/status500", { name = "bad" }) end)
cicada.thresholds{ "p99<10000", { "fail_ratio<0.5", abort = true, grace = 2 } }
"""


@pytest.mark.time_limit(60)
def test_abort_on_fail_ends_the_run_early(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, ABORT)
    out = tmp_path / "s.json"
    html = tmp_path / "report.html"
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "60s", "-H", nginx.url,
                      "--only-summary", "--summary-json", out, "--html", html], timeout=45)
    assert run.returncode == 3, run.output
    # not before its grace, and long before -t
    assert 2 <= run.duration < 15, run.duration
    assert "threshold 'fail_ratio<0.5' failed (abort = true): stopping the run" in run.stderr
    doc, by_rule = summary(out)
    assert by_rule["fail_ratio<0.5"]["ok"] is False and by_rule["fail_ratio<0.5"]["abort"] is True
    assert by_rule["fail_ratio<0.5"]["grace"] == 2 and by_rule["fail_ratio<0.5"]["value"] == 1
    assert by_rule["p99<10000"]["ok"] is True and by_rule["p99<10000"]["source"] == "scenario"
    assert doc["totals"]["num_failures"] == nginx.count("/status500", status=500) > 0
    # the HTML report lists each rule with its final value and verdict
    page = html.read_text()
    assert re.search(r'<table id="thresholds">.*fail_ratio&lt;0\.5</td><td>scenario \(abort\)</td>'
                     r'<td class="n">1</td><td class="fail">FAIL</td>', page, re.S), page[:3000]
    assert re.search(r'p99&lt;10000</td><td>scenario</td><td class="n">[\d.]+</td>'
                     r'<td class="pass">pass</td>', page)


@pytest.mark.time_limit(60)
def test_abort_with_the_web_ui_stops_the_test(tmp_path, nginx, run_cicada):
    """With the web UI the failed rule stops the test (the process stays
    until --autoquit), and the exit code is still the threshold's."""
    scenario = write_scenario(tmp_path, ABORT.replace("grace = 2", "grace = 0"))
    run = run_cicada(["-f", scenario, "--autostart", "-u", 2, "-r", 2, "-t", "60s",
                      "-H", nginx.url, "--autoquit", 1, "--web-host", "127.0.0.1",
                      "--web-port", free_port()], timeout=45, csv=False)
    assert run.returncode == 3, run.output
    assert run.duration < 15, run.duration
    assert "stopping the run" in run.stderr and "--run-time limit reached" not in run.stderr


@pytest.mark.time_limit(60)
def test_abort_rule_that_passes_does_not_stop(tmp_path, nginx, run_cicada):
    scenario = write_scenario(tmp_path, CLEAN + 'cicada.thresholds{ { "fail_ratio<0.5", abort = true } }\n')
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "3s", "-H", nginx.url,
                      "--only-summary"], timeout=30, csv=False)
    assert run.returncode == 0, run.output
    assert run.duration >= 3, run.duration


@pytest.mark.time_limit(90)
def test_thresholds_on_master_over_two_workers(tmp_path, nginx, procs):  # noqa: F811
    scenario = write_scenario(tmp_path, FAILING)
    port = free_port()
    out = tmp_path / "s.json"
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 4, "-r", 4, "-t", 4,
                                        "--expect-workers", 2, "-H", nginx.url, "--csv",
                                        tmp_path / "m", "--summary-json", out,
                                        "--threshold", "requests>10",
                                        "--threshold", "fail_ratio(bad)<0.5"))
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    assert master.wait(40) == 3, master.text()
    w1.wait(15)
    w2.wait(15)
    doc, by_rule = summary(out)
    served = nginx.count()
    _, csvs = read_csvs(tmp_path / "m")
    agg = [r for r in csvs["stats"] if r["Name"] == "Aggregated"][0]
    # the rules read the merged figures of both workers
    assert by_rule["requests>10"]["value"] == int(agg["Request Count"]) == served > 10
    assert by_rule["requests>10"]["ok"] is True
    assert by_rule["fail_ratio(bad)<0.5"]["value"] == 1 and by_rule["fail_ratio(bad)<0.5"]["ok"] is False
    assert doc["exit_code"] == 3
    # the workers hold no rules of their own
    assert "threshold" not in w1.text() and "threshold" not in w2.text()


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("rule,why", [
    ("p96<200", "unknown metric 'p96'"),
    ("p95", "operator is missing"),
    ("p95<abc", "not a number"),
    ("p95(/x<200", "not closed"),
    ("", "empty rule"),
])
def test_malformed_rule_is_a_usage_error(tmp_path, run_cicada, rule, why):
    scenario = write_scenario(tmp_path, CLEAN)
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-t", "1s", "-H", "http://127.0.0.1:9",
                      "--threshold", rule], timeout=15, csv=False)
    assert run.returncode == 2, run.output
    assert f"argument --threshold: invalid rule '{rule}'" in run.stderr and why in run.stderr, run.output


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("rules,why", [
    ('{ "p95<<1" }', "invalid rule 'p95<<1': unknown operator"),
    ('{ 42 }', "rule 1 is neither a string"),
    ('{ { "p95<1", grace = -1 } }', "grace must be a number"),
    ('"p95<1"', "takes a list of rules"),
])
def test_malformed_scenario_rule_exits_2(tmp_path, run_cicada, rules, why):
    scenario = write_scenario(tmp_path, CLEAN + f"cicada.thresholds({rules})\n", "rules.lua")
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-t", "1s", "-H", "http://127.0.0.1:9"],
                     timeout=15, csv=False)
    assert run.returncode == 2, run.output
    assert "rules.lua" in run.stderr and why in run.stderr, run.output
