"""An idle user's Lua memory stays small (docs/performance.md).

Users that sleep in on_start are what a large idle swarm is made of. Their
coroutine's stack starts at 376 bytes, and LuaJIT never shrinks it back once
it doubled: cicada.sleep must not call C at that depth (a C call needs 20
free slots, which doubled it to 752 bytes for every user), and the prelude
must not keep more per user than its self and client tables. User 1 reads
the Lua heap after two full collections, once with 1 user and once with
3,000; the difference per user is about 740 bytes (1,230 with the doubled
stack). The bound, 950 bytes, is far from both. No network: the users only
sleep, and the host is never contacted.
"""

import re

import pytest

from conftest import write_scenario

SCENARIO = """\
Idle = cicada.user { wait_time = cicada.constant(3600) }
function Idle:on_start()
  if self.id == 1 then
    cicada.sleep(1.5)
    collectgarbage("collect")
    collectgarbage("collect")
    io.stderr:write(string.format("LUAHEAP %.3f\\n", collectgarbage("count")))
  end
  cicada.sleep(3600)
end
Idle:task(function(self) cicada.sleep(3600) end)
"""


def heap_kib(run_cicada, scenario, users):
    run = run_cicada(["-f", scenario, "--headless", "-u", users, "-r", 1000000,
                      "-H", "http://127.0.0.1:9", "--threads", 1, "-t", "3s",
                      "--only-summary"], timeout=30, csv=False)
    m = re.search(r"LUAHEAP ([\d.]+)", run.stderr)
    assert m, run.output
    return float(m.group(1))


@pytest.mark.time_limit(60)
def test_idle_user_lua_heap(tmp_path, run_cicada):
    scenario = write_scenario(tmp_path, SCENARIO)
    one = heap_kib(run_cicada, scenario, 1)
    many = heap_kib(run_cicada, scenario, 3000)
    per_user = (many - one) * 1024 / 2999
    assert 300 < per_user < 950, f"{per_user:.0f} bytes of Lua heap per idle user"
