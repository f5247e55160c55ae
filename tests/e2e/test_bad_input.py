"""Bad input gives a clear message and the right exit code.

- A scenario with a syntax error, or a runtime error while it loads: the
  message names file:line, exit code 1.
- An unknown flag or a bad value: a usage error naming it, exit code 2.
- No user classes, or a class without tasks: a clear error, non-zero exit.
"""

import re

import pytest

from conftest import free_port, write_scenario

SYNTAX_ERROR = """\
Broken = cicada.user { wait_time = cicada.constant(1) }

Broken:task(1, function(self)
  local x = = 1
end)
"""

RUNTIME_ERROR = """\
Broken = cicada.user { wait_time = cicada.constant(1) }
Broken:task(1, function(self) self.client:get("/") end)

local settings = nil
local port = settings.port
"""


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("text,line", [(SYNTAX_ERROR, 4), (RUNTIME_ERROR, 5)],
                         ids=["syntax", "runtime-at-load"])
def test_broken_scenario_names_file_and_line(tmp_path, run_cicada, text, line):
    scenario = write_scenario(tmp_path, text, "broken.lua")
    port = free_port()  # never contacted: the scenario fails before any user starts
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "2s",
                      "-H", f"http://127.0.0.1:{port}"], timeout=15, csv=False)
    assert run.returncode == 2, run.output  # a bad scenario (issue 11: exit code 2)
    assert re.search(rf"broken\.lua:{line}:", run.stderr), (
        f"stderr does not name broken.lua:{line}:\n{run.output}")


@pytest.mark.time_limit(30)
def test_missing_scenario_file(tmp_path, run_cicada):
    run = run_cicada(["-f", tmp_path / "nope.lua", "--headless", "-u", 1, "-t", "1s"],
                     timeout=15, csv=False)
    assert run.returncode != 0, run.output
    assert "nope.lua" in run.stderr, run.output


@pytest.mark.time_limit(30)
def test_unknown_flag_is_a_usage_error(tmp_path, run_cicada):
    run = run_cicada(["--headless", "--no-such-flag", "-t", "1s"], timeout=15, csv=False)
    assert run.returncode == 2, run.output
    assert "--no-such-flag" in run.stderr, run.output


BAD_VALUES = [
    (["-u", "abc"], ("-u", "--users", "abc")),
    (["-r", "fast"], ("-r", "--spawn-rate", "fast")),
    (["-t", "10x"], ("-t", "--run-time", "10x")),
    (["--exit-code-on-error", "one"], ("--exit-code-on-error", "one")),
    (["--threads", "many"], ("--threads", "many")),
    (["-L", "LOUD"], ("-L", "--loglevel", "LOUD")),
]


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("bad,names", BAD_VALUES, ids=[b[0][0] for b in BAD_VALUES])
def test_bad_value_is_a_usage_error(tmp_path, run_cicada, bad, names):
    scenario = write_scenario(tmp_path, "U = cicada.user {}\nU:task(1, function(self) end)\n")
    args = ["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "1s"]
    # The bad flag comes last so that it overrides the good one above.
    run = run_cicada(args + bad, timeout=15, csv=False)
    assert run.returncode == 2, run.output
    assert any(n in run.stderr for n in names), f"usage error does not name {names}\n{run.output}"


@pytest.mark.time_limit(30)
def test_no_user_classes(tmp_path, run_cicada):
    scenario = write_scenario(tmp_path, "local x = 1\nfunction helper() return x end\n")
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "2s",
                      "-H", f"http://127.0.0.1:{free_port()}"], timeout=15, csv=False)
    assert run.returncode != 0, run.output
    assert re.search(r"no user class", run.stderr, re.I), run.output


@pytest.mark.time_limit(30)
def test_user_class_without_tasks(tmp_path, run_cicada):
    scenario = write_scenario(tmp_path, "Idle = cicada.user { wait_time = cicada.constant(1) }\n")
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "2s",
                      "-H", f"http://127.0.0.1:{free_port()}"], timeout=15, csv=False)
    assert run.returncode != 0, run.output
    assert "Idle" in run.stderr and "task" in run.stderr.lower(), run.output
