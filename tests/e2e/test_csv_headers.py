"""The four CSV files have exactly the header lines Locust 2.12.1 writes.

The reference is not copied into this file: the test runs the real
/usr/bin/locust (Debian's python3-locust 2.12.1) headless with --csv against
the test's nginx for a few seconds and reads its headers, then runs cicada
the same way and compares the header lines byte for byte (line end included).
"""

import pytest

from conftest import (CSV_KINDS, REFERENCE_LOCUSTFILE, REFERENCE_SCENARIO, assert_complete_csvs,
                      read_csvs, run_locust, write_scenario)

LOCUSTFILE = REFERENCE_LOCUSTFILE + """\

    @task
    def boom(self):
        raise RuntimeError("boom")
"""

SCENARIO = REFERENCE_SCENARIO + """\
Reference:task(1, function(self) error("boom") end)
"""


def locust_headers(tmp_path, url, full_history):
    d = tmp_path / ("locust-full" if full_history else "locust")
    args = ["--headless", "-u", "2", "-r", "2", "-t", "2s",
            "-H", url, "--csv", "ref", "--only-summary", "--loglevel", "WARNING"]
    if full_history:
        args.append("--csv-full-history")
    p = run_locust(d, LOCUSTFILE, args)
    headers, rows = read_csvs(d / "ref")
    assert set(headers) == set(CSV_KINDS), f"locust wrote {sorted(headers)}\n{p.stderr}"
    # Sanity: the reference run really ran (so the files are Locust's real ones).
    assert rows["stats"] and rows["failures"] and rows["exceptions"], p.stderr
    return headers


@pytest.mark.time_limit(100)
@pytest.mark.parametrize("full_history", [False, True], ids=["plain", "full-history"])
def test_csv_headers_equal_locusts(tmp_path, nginx, run_cicada, full_history):
    ref = locust_headers(tmp_path, nginx.url, full_history)
    scenario = write_scenario(tmp_path, SCENARIO)
    args = ["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "2s", "-H", nginx.url,
            "--only-summary"]
    if full_history:
        args.append("--csv-full-history")
    run = run_cicada(args, timeout=30)
    assert run.returncode == 1, f"failures and exceptions must give exit code 1\n{run.output}"
    assert_complete_csvs(run, ["fast", "missing"])
    for kind in CSV_KINDS:
        assert run.header[kind].encode() == ref[kind].encode(), (
            f"_{kind}.csv header differs from Locust 2.12.1's\n"
            f"locust: {ref[kind]!r}\ncicada: {run.header[kind]!r}"
        )
    assert run.csv["failures"], "no failure rows"
    assert run.csv["exceptions"], "no exception rows"
    if full_history:
        names = {r["Name"] for r in run.csv["stats_history"]}
        assert {"fast", "missing", "Aggregated"} <= names, names
    else:
        assert {r["Name"] for r in run.csv["stats_history"]} == {"Aggregated"}
