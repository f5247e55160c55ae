"""The console output of a headless run looks like Locust 2.12.1's.

A stats table every 2 s, then at the end the summary table, the
"Response time percentiles (approximated)" table and the error report. The
tables' fixed lines (headers, separators, titles) must equal the ones the
real /usr/bin/locust prints in the same situation (not a tty, so the name
column is 80 wide), byte for byte, trailing spaces included.
"""

import pytest

from conftest import REFERENCE_LOCUSTFILE, REFERENCE_SCENARIO, run_locust, write_scenario

FIXED = ("Type ", "--------|", "------------------|", "Response time percentiles",
         "Error report", "# occurrences")


def fixed_lines(text):
    return {line for line in text.splitlines() if line.startswith(FIXED)}


@pytest.mark.time_limit(60)
def test_console_tables_match_locust(tmp_path, nginx, run_cicada):
    ref = run_locust(tmp_path / "locust", REFERENCE_LOCUSTFILE,
                     ["--headless", "-u", "2", "-r", "2", "-t", "2s", "-H", nginx.url])
    want = fixed_lines(ref.stdout + ref.stderr)
    assert len(want) >= 8, f"unexpected Locust output:\n{ref.stderr}"

    scenario = write_scenario(tmp_path, REFERENCE_SCENARIO)
    run = run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 2, "-t", "5s", "-H", nginx.url],
                     timeout=30, csv=False)
    assert run.returncode == 1, run.output
    out = run.stdout + run.stderr
    got = fixed_lines(out)
    assert got == want, (
        "console table lines differ from Locust's\n"
        + "".join(f"missing: {line!r}\n" for line in sorted(want - got))
        + "".join(f"extra:   {line!r}\n" for line in sorted(got - want))
    )

    lines = out.splitlines()
    stats_header = next(line for line in lines if line.startswith("Type ") and "# reqs" in line
                        and "# fails" in line)
    # 5 s run: tables at about 0, 2 and 4 s, then the final one.
    assert lines.count(stats_header) >= 3, f"no stats table every 2 s\n{run.output}"
    pct = lines.index("Response time percentiles (approximated)")
    err = lines.index("Error report")
    assert pct < err, run.output
    final = [line for line in lines[:pct] if line.startswith("GET ")][-2:]
    assert [line.split()[1] for line in final] == ["fast", "missing"], final
    errors = lines[err:]
    assert any("GET missing: HTTPError('404 Client Error: Not Found for url:" in line
               for line in errors), "\n".join(errors)
