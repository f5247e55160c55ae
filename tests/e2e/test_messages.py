"""Custom messages between master and workers (issue 10, item 6):
cicada.register_message / cicada.send_message, on Locust 2.12.1's wire
format, in both directions:

- a real Locust master and two cicada workers (--threads 2);
- a cicada master and a real Locust worker;
- a cicada master and two cicada workers: one worker by client id, all of
  them (nil data), and an unknown client id refused;
- one cicada process alone (the handler runs at once, as Locust's local
  runner), and what cannot travel (a function, a cycle, a protocol name)
  is refused with an error naming it; a custom message from an identity
  that never said client_ready is not handled.

Each side prints what it got in a canonical form (the Lua side with
dump(), the Python side as sorted JSON): strings (UTF-8), integers
(negative, 2^53), floats, booleans, nil inside arrays and maps, nested
tables and arrays, the empty array, and nil as the whole data survive
every hop. Every process is started here and killed by its PID.
"""

import json
import re
import socket
import time

import pytest

from conftest import CICADA, LOCUST, free_port
from test_dist import master_cmd, procs, worker_cmd  # noqa: F401 (procs is a fixture)

# The data every test sends, in Python and in Lua.
DATA = {"s": "h\u00e9llo \u2713", "i": 42, "neg": -7, "f": 1.5, "big": 2 ** 53, "t": True,
        "fl": False, "none": None, "arr": [1, "two", None, [3, {"x": 4}]],
        "nested": {"a": {"b": {"c": "deep"}}}, "empty": []}

LUA_COMMON = r"""
DATA = { s = "h\195\169llo \226\156\147", i = 42, neg = -7, f = 1.5, big = 2^53, t = true,
         fl = false, none = cicada.null, arr = { 1, "two", cicada.null, { 3, { x = 4 } } },
         nested = { a = { b = { c = "deep" } } }, empty = {} }

function dump(v)
  if v == cicada.null then return "null" end
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. dump(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return '"' .. v .. '"'
  elseif t == "number" then
    return ("%.17g"):format(v)
  end
  return tostring(v)
end

U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(function(self) cicada.sleep(0.1) end)
"""

# Both sides of a worker: what it got, and the answer from every engine.
LUA_WORKER = r"""
cicada.register_message("to_worker", function(data, msg)
  print(("GOT %d %s %s"):format(cicada.thread_index, msg.node_id, dump(data)))
  io.stdout:flush()
  cicada.send_message("from_worker", { thread = cicada.thread_index, data = data })
end)
cicada.register_message("hello", function(data, msg)
  print(("HELLO %d %s"):format(cicada.thread_index, dump(data)))
  io.stdout:flush()
end)
"""

LUA_MASTER = r"""
cicada.register_message("from_worker", function(data, msg)
  print(("FROM %s %d %s"):format(msg.node_id, data.thread, dump(data.data)))
  io.stdout:flush()
end)
cicada.on("test_start", function()
  if cicada.role ~= "master" then return end
  local ws = cicada.workers()
  print("WORKERS " .. #ws)
  for _, id in ipairs(ws) do cicada.send_message("to_worker", DATA, id) end
  cicada.send_message("hello") -- nil, to every worker
  print("BADID", cicada.send_message("hello", 1, "nobody"))
  io.stdout:flush()
end)
"""

LOCUST_COMMON = """
import json, sys
from locust import User, task, constant, events
from locust.runners import MasterRunner, WorkerRunner

DATA = %r

class U(User):
    wait_time = constant(0.2)
    @task
    def t(self):
        pass

def out(*a):
    print(*a, flush=True)
""" % (DATA,)

# A Locust master: sends DATA to each worker by id and nil to all, logs
# what comes back as sorted JSON.
LOCUST_MASTER = LOCUST_COMMON + """
def from_worker(environment, msg, **kw):
    out("FROM", msg.node_id, msg.data["thread"], json.dumps(msg.data["data"], sort_keys=True))

@events.init.add_listener
def init(environment, **kw):
    environment.runner.register_message("from_worker", from_worker)

@events.test_start.add_listener
def start(environment, **kw):
    if isinstance(environment.runner, MasterRunner):
        for wid in list(environment.runner.clients):
            environment.runner.send_message("to_worker", DATA, wid)
        environment.runner.send_message("hello", None)
"""

# A Locust worker: logs what it got as JSON and sends it back.
LOCUST_WORKER = LOCUST_COMMON + """
def to_worker(environment, msg, **kw):
    out("GOT", msg.node_id, json.dumps(msg.data, sort_keys=True))
    environment.runner.send_message("from_worker", {"thread": 1, "data": msg.data})

def hello(environment, msg, **kw):
    out("HELLO", repr(msg.data))

@events.init.add_listener
def init(environment, **kw):
    environment.runner.register_message("to_worker", to_worker)
    environment.runner.register_message("hello", hello)
"""


def lua_dump(v, top=True):
    """What the scenarios' dump() prints for the Lua form of Python value v."""
    if v is None:
        return "nil" if top else "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "%.17g" % v
    if isinstance(v, str):
        return '"' + v + '"'
    items = enumerate(v, 1) if isinstance(v, list) else v.items()
    parts = sorted((str(k), lua_dump(x, False)) for k, x in items)
    return "{" + ",".join(f"{k}={x}" for k, x in parts) + "}"


EXPECTED = lua_dump(DATA)


def worker_id(text):
    m = re.search(r"as (\S+) \(worker index", text)
    assert m, text
    return m.group(1)


@pytest.fixture
def scenario(tmp_path):
    p = tmp_path / "msgs.lua"
    p.write_text(LUA_COMMON + LUA_WORKER + LUA_MASTER)
    return p


def test_cicada_master_and_workers(tmp_path, procs, scenario):  # noqa: F811
    """Master -> one worker by id (DATA), -> all workers (nil); every
    engine of a worker runs the handler and answers; the answers reach the
    master's handler with the worker's node id and the data intact."""
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 2, "-r", 2, "-t", 3,
                                        "--expect-workers", 2))
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    assert master.wait(30) == 0, master.text()
    assert w1.wait(15) == 0, w1.text()
    assert w2.wait(15) == 0, w2.text()
    m = master.text()
    assert "WORKERS 2" in m, m
    assert "BADID\tnil\tno connected worker has that client id" in m, m
    for w in (w1, w2):
        t = w.text()
        wid = worker_id(t)
        for thread in (1, 2):
            assert f"GOT {thread} {wid} {EXPECTED}" in t, (EXPECTED, t)
            assert f"HELLO {thread} nil" in t, t
            assert f"FROM {wid} {thread} {EXPECTED}" in m, (EXPECTED, m)
    # every worker got its message once per engine, no more
    assert len(re.findall(r"^FROM ", m, re.M)) == 4, m


@pytest.mark.time_limit(60)
def test_cicada_workers_under_locust_master(tmp_path, procs, scenario):  # noqa: F811
    """A real Locust 2.12.1 master sends DATA to each of two cicada workers
    by client id and None to all; each engine of each worker answers, and
    Locust's handler gets the data back equal to what it sent."""
    (tmp_path / "locustfile.py").write_text(LOCUST_MASTER)
    port = free_port()
    master = procs("locust", [LOCUST, "-f", tmp_path / "locustfile.py", "--master", "--headless",
                              "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                              "-u", 2, "-r", 2, "-t", 4, "--expect-workers", 2])
    w1 = procs("w1", worker_cmd(scenario, port))
    w2 = procs("w2", worker_cmd(scenario, port))
    master.wait(40)
    assert w1.wait(15) == 0, w1.text()
    assert w2.wait(15) == 0, w2.text()
    m = master.text()
    got = {}
    for node, thread, data in re.findall(r"^FROM (\S+) (\d) (.*)$", m, re.M):
        got[(node, int(thread))] = json.loads(data)
    for w in (w1, w2):
        t = w.text()
        wid = worker_id(t)
        for thread in (1, 2):
            assert f"GOT {thread} {wid} {EXPECTED}" in t, (EXPECTED, t)
            assert f"HELLO {thread} nil" in t, t
            assert got.get((wid, thread)) == DATA, (wid, thread, m)
    assert "Unknown message type" not in m, m


@pytest.mark.time_limit(60)
def test_locust_worker_under_cicada_master(tmp_path, procs, scenario):  # noqa: F811
    """A cicada master sends DATA to a real Locust worker by client id and
    nil to all; Python gets the values Python would have sent, and what it
    sends back reaches the master's handler intact."""
    (tmp_path / "locustfile.py").write_text(LOCUST_WORKER)
    port = free_port()
    master = procs("master", master_cmd(scenario, port, "--headless", "-u", 1, "-r", 1, "-t", 3,
                                        "--expect-workers", 1))
    worker = procs("locust-worker", [LOCUST, "-f", tmp_path / "locustfile.py", "--worker",
                                     "--master-host", "127.0.0.1", "--master-port", port])
    assert master.wait(30) == 0, master.text()
    worker.wait(15)
    m, w = master.text(), worker.text()
    got = re.search(r"^GOT (\S+) (.*)$", w, re.M)
    assert got, w
    assert json.loads(got.group(2)) == DATA, w
    assert "HELLO None" in w, w
    assert f"FROM {got.group(1)} 1 {EXPECTED}" in m, (EXPECTED, m)
    assert "Unknown message type" not in w, w


def test_local_run_calls_own_handler(tmp_path, run_cicada):
    """Without --master/--worker, send_message runs this VM's handler at
    once (Locust's local runner does the same), after the same round trip
    through msgpack; an unregistered name is logged."""
    p = tmp_path / "local.lua"
    p.write_text(LUA_COMMON + LUA_WORKER + r"""
cicada.on("test_start", function()
  cicada.send_message("to_worker", DATA)
  cicada.send_message("hello")
  cicada.send_message("not_registered", 1)
  print("ROLE " .. cicada.role .. " " .. cicada.thread_count)
end)
cicada.register_message("from_worker", function(data, msg)
  print(("FROM %s %d %s"):format(msg.node_id, data.thread, dump(data.data)))
end)
""")
    r = run_cicada(["-f", p, "--headless", "-u", 1, "-r", 1, "-t", 1, "--threads", 1], csv=False)
    assert r.returncode == 0, r.output
    assert f"GOT 1 local {EXPECTED}" in r.stdout, (EXPECTED, r.output)
    assert f"FROM local 1 {EXPECTED}" in r.stdout, r.output
    assert "HELLO 1 nil" in r.stdout, r.output
    assert "ROLE local 1" in r.stdout, r.output
    assert "Unknown message type received: not_registered" in r.stderr, r.output


def test_what_cannot_travel_is_refused(tmp_path, run_cicada):
    """A function, a cycle, a bad name: send_message raises an error naming
    where the value is; the error is the task's exception, the run goes on."""
    p = tmp_path / "bad.lua"
    p.write_text(r"""
local errs = {}
local function try(...)
  local ok, err = pcall(cicada.send_message, ...)
  print("ERR", ok, err)
end
cicada.on("test_start", function()
  try("m", { a = { 1, 2, function() end } })
  local t = {} t.me = t
  try("m", t)
  try("m", { [{}] = 1 })
  try("", 1)
  try(("x"):rep(64), 1)
  try("m", coroutine.create(function() end))
  print("REG", pcall(cicada.register_message, "stats", function() end))
  print("REG", pcall(cicada.register_message, "ok", 42))
end)
U = cicada.user { wait_time = cicada.constant(0.2) }
U:task(function(self) cicada.sleep(0.1) end)
""")
    r = run_cicada(["-f", p, "--headless", "-u", 1, "-r", 1, "-t", 1, "--threads", 1], csv=False)
    assert r.returncode == 0, r.output
    out = r.stdout
    assert "cannot send data.a[3] (a function)" in out, out
    assert re.search(r"cannot send data(\.me)+ \(tables nested more than 30 deep, or a cycle\)",
                     out), out
    assert "cannot send data[table] (a table key)" in out, out
    assert out.count("a message name is 1 to 63 bytes") == 2, out
    assert "cannot send data (a thread)" in out, out
    assert "'stats' is a message of the master/worker protocol itself" in out, out
    assert "the handler must be a function" in out, out


def test_unknown_identity_is_not_handled(tmp_path, procs):  # noqa: F811
    """A custom message from a peer that never said client_ready reaches no
    handler on a cicada master (it is logged and dropped)."""
    zmq = pytest.importorskip("zmq")
    msgpack = pytest.importorskip("msgpack")
    p = tmp_path / "m.lua"
    p.write_text(r"""
cicada.register_message("from_worker", function(data, msg) print("HANDLED " .. tostring(data)) end)
U = cicada.user { wait_time = cicada.constant(1) }
U:task(function(self) cicada.sleep(0.1) end)
""")
    port = free_port()
    master = procs("master", master_cmd(p, port, "--headless", "-u", 1, "-r", 1,
                                        "--expect-workers", 1, "--expect-workers-max-wait", 5))
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, b"stranger")
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(f"tcp://127.0.0.1:{port}")
        for _ in range(20):
            s.send(msgpack.packb(["from_worker", "hi", "stranger"]))
            time.sleep(0.05)
        master.wait_for(r"custom message from_worker from an unknown worker stranger", 10)
    finally:
        s.close()
        ctx.term()
    assert "HANDLED" not in master.text(), master.text()


BARRIER = r"""
-- a barrier: no user starts its tasks before every user of every worker is up
local go = false
cicada.register_message("go", function() go = true end)   -- on the workers

cicada.on("spawning_complete", function(user_count)
  if cicada.role == "master" then                         -- the whole swarm runs
    print("GO after " .. user_count .. " users")
    cicada.send_message("go")                             -- to every worker
  elseif cicada.role == "local" then
    go = true
  end
end)

U = cicada.user { wait_time = cicada.constant(0.5) }
function U:on_start()
  while not go do cicada.sleep(0.05) end                  -- the barrier
  print(("PASSED %.3f"):format(cicada.now()))
  io.stdout:flush()
end
U:task(function(self) cicada.sleep(0.1) end)
"""


@pytest.mark.time_limit(60)
def test_barrier_across_workers(tmp_path, procs):  # noqa: F811
    """The barrier of docs/distributed.md: users spawned over 1.5 s on two
    workers all pass it together, once the master's spawning_complete has
    fired (once, with the swarm's user count)."""
    p = tmp_path / "barrier.lua"
    p.write_text(BARRIER)
    port = free_port()
    master = procs("master", master_cmd(p, port, "--headless", "-u", 4, "-r", 2, "-t", 4,
                                        "--expect-workers", 2))
    w1 = procs("w1", worker_cmd(p, port))
    w2 = procs("w2", worker_cmd(p, port))
    assert master.wait(30) == 0, master.text()
    assert w1.wait(15) == 0 and w2.wait(15) == 0, (w1.text(), w2.text())
    assert master.text().count("GO after 4 users") == 1, master.text()
    passed = [float(t) for w in (w1, w2) for t in re.findall(r"^PASSED (\S+)", w.text(), re.M)]
    assert len(passed) == 4, (w1.text(), w2.text())
    # the ramp took 1.5 s (4 users at 2/s); through the barrier they start together
    assert max(passed) - min(passed) < 0.5, passed
