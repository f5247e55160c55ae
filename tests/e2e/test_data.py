"""Test data: cicada.data.csv() and cicada.data.json().

A data file is loaded once per process and shared by every engine thread;
ds:next() hands out each row once across all threads, which the nginx
access log shows: 200 users on 2 threads ask for /a?u=<row id> once each,
and nginx sees the 200 ids exactly once. The other tests check random()
rows, RFC 4180 quoting, JSON rows, and that a malformed file stops the run
at load with `file:line` (exit 1). Each run lasts a second or two.
"""

import re

import pytest

from conftest import write_scenario


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text.encode())
    return p


def query_values(nginx, path, key):
    """The `key=` values of every logged request to `path`, in log order."""
    out = []
    for _, uri, _ in nginx.log_lines():
        p, _, q = uri.partition("?")
        if p == path:
            m = re.search(rf"(?:^|&){key}=([^&]*)", q)
            out.append(m.group(1) if m else None)
    return out


NEXT = """\
local rows = cicada.data.csv("rows.csv", {cycle = %s})
Reader = cicada.user { wait_time = cicada.constant(30) }
function Reader:on_start()
  local row = rows:next()
  self.client:get("/a", { params = { u = row and row.id or "none" }, name = "row" })
end
Reader:task(1, function(self) end)
"""


@pytest.mark.time_limit(30)
def test_next_rows_unique_across_two_threads(tmp_path, nginx, run_cicada):
    write(tmp_path, "rows.csv", "id,name\n" + "".join(f"{i},user{i}\n" for i in range(1, 201)))
    scenario = write_scenario(tmp_path, NEXT % "true")
    run = run_cicada(["-f", scenario, "--headless", "-u", 200, "-r", 1000, "-t", "2s",
                      "-H", nginx.url, "--threads", 2, "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    ids = query_values(nginx, "/a", "u")
    assert len(ids) == 200, f"{len(ids)} requests\n{run.output}"
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert not dups, f"rows handed out twice: {dups}"
    assert set(ids) == {str(i) for i in range(1, 201)}


@pytest.mark.time_limit(30)
def test_next_without_cycle_runs_out(tmp_path, nginx, run_cicada):
    write(tmp_path, "rows.csv", "id\n1\n2\n3\n4\n5\n")
    scenario = write_scenario(tmp_path, NEXT % "false")
    run = run_cicada(["-f", scenario, "--headless", "-u", 8, "-r", 100, "-t", "1s",
                      "-H", nginx.url, "--threads", 2, "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    ids = query_values(nginx, "/a", "u")
    assert sorted(ids) == ["1", "2", "3", "4", "5", "none", "none", "none"], ids


RANDOM = """\
local rows = cicada.data.csv("rows.csv")
Picker = cicada.user { wait_time = cicada.constant(30) }
function Picker:on_start()
  for _ = 1, 20 do
    self.client:get("/b", { params = { u = rows:random().id }, name = "random" })
  end
end
Picker:task(1, function(self) end)
"""


@pytest.mark.time_limit(30)
def test_random_rows_come_from_the_file(tmp_path, nginx, run_cicada):
    write(tmp_path, "rows.csv", "id\n" + "".join(f"r{i}\n" for i in range(1, 11)))
    scenario = write_scenario(tmp_path, RANDOM)
    run = run_cicada(["-f", scenario, "--headless", "-u", 5, "-r", 100, "-t", "2s",
                      "-H", nginx.url, "--threads", 2, "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    ids = query_values(nginx, "/b", "u")
    assert len(ids) == 100, run.output
    assert set(ids) <= {f"r{i}" for i in range(1, 11)}, set(ids)
    assert len(set(ids)) >= 5, f"100 random picks of 10 rows gave only {set(ids)}"


# Checks run at load (in every VM); a mismatch is a load error, exit 1.
QUOTED = r"""
local ds = cicada.data.csv("quoted.csv")
local function check(what, got, want)
  if got ~= want then error(what .. ": got " .. string.format("%q", tostring(got))) end
end
check("#ds", #ds, 3)
check("len", ds:len(), 3)
check("columns", table.concat(ds:columns(), "|"), "id|text|empty")
check("row 1", ds:get(1).text, 'a, "quoted"\nsecond line')
check("row 2", ds:get(2).text, "crlf\r\ninside")
check("row 3", ds:get(3).text, "plain")
check("empty", ds:get(3).empty, "")
check("out of range", ds:get(4), nil)
local semi = cicada.data.csv("semi.csv", { header = false, separator = ";" })
check("no header", semi:get(2)[2], "x;y")
check("no header columns", #semi:columns(), 2)
print("DATA-OK")
U = cicada.user { wait_time = cicada.constant(30) }
U:task(1, function(self) end)
"""


@pytest.mark.time_limit(30)
def test_quoted_fields_round_trip(tmp_path, nginx, run_cicada):
    write(tmp_path, "quoted.csv",
          'id,text,empty\r\n'
          '1,"a, ""quoted""\nsecond line",\r\n'
          '2,"crlf\r\ninside",\r\n'
          '\r\n'  # a blank line is skipped
          '3,plain,')  # no final line end
    write(tmp_path, "semi.csv", "a;b\n1;\"x;y\"\n")
    scenario = write_scenario(tmp_path, QUOTED)
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "1s",
                      "-H", nginx.url, "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    assert "DATA-OK" in run.stdout, run.output


JSON = r"""
local ds = cicada.data.json("items.json")
local function check(what, got, want)
  if got ~= want then error(what .. ": got " .. string.format("%q", tostring(got))) end
end
check("#ds", #ds, 4)
check("columns", table.concat(ds:columns(), "|"), "id|tags|name")
check("id", ds:get(1).id, 1)
check("nested", ds:get(1).tags[2], "y")
check("unicode", ds:get(2).name, "caf\195\169")
check("number row", ds:get(3), 42)
check("string row", ds:get(4), "plain")
print("JSON-OK")
U = cicada.user { wait_time = cicada.constant(30) }
function U:on_start()
  local row = ds:random()
  self.client:get("/c", { params = { kind = type(row) }, name = "json" })
end
U:task(1, function(self) end)
"""


@pytest.mark.time_limit(30)
def test_json_rows(tmp_path, nginx, run_cicada):
    write(tmp_path, "items.json",
          '[{"id": 1, "tags": ["x", "y"]},\n {"id": 2, "name": "caf\\u00e9"},\n 42, "plain"]\n')
    scenario = write_scenario(tmp_path, JSON)
    run = run_cicada(["-f", scenario, "--headless", "-u", 3, "-r", 100, "-t", "1s",
                      "-H", nginx.url, "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    assert "JSON-OK" in run.stdout, run.output
    kinds = query_values(nginx, "/c", "kind")
    assert len(kinds) == 3 and set(kinds) <= {"table", "number", "string"}, kinds


BAD = """\
local ds = cicada.data.{kind}("{name}")
U = cicada.user {{ wait_time = cicada.constant(1) }}
U:task(1, function(self) end)
"""


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("kind,name,text,message", [
    ("csv", "bad.csv", 'id,name\n1,ok\n2,"never closed\n3,x\n', "bad.csv:3: unterminated quoted field"),
    ("csv", "short.csv", "id,name\n1,ok\n2\n", "short.csv:3: 1 field, the header has 2"),
    ("csv", "junk.csv", 'id\n"a"b\n', "junk.csv:2: unexpected character after a closing quote"),
    ("json", "bad.json", '[{"id": 1},\n {"id": }]\n', "bad.json:2: invalid JSON"),
    ("json", "obj.json", '{"id": 1}', "obj.json: not a JSON array"),
    ("csv", "missing.csv", None, "missing.csv: No such file or directory"),
])
def test_malformed_file_is_a_load_error(tmp_path, run_cicada, kind, name, text, message):
    if text is not None:
        write(tmp_path, name, text)
    scenario = write_scenario(tmp_path, BAD.format(kind=kind, name=name))
    run = run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", "1s",
                      "-H", "http://127.0.0.1:9"], timeout=20, csv=False)
    assert run.returncode == 2, run.output  # a bad scenario (issue 11: exit code 2)
    assert message in run.stderr, run.output
    assert "scenario.lua:1:" in run.stderr, run.output  # and where the scenario asked for it
