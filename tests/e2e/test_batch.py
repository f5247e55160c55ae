"""client:batch (issue 13, item 6): a user sends several requests at once
and resumes when all are done.

- Against a server that answers each request after 300 ms, a batch of 4
  takes about the slowest request's time, not the sum (wide bound: more
  than one delay, less than two); with parallel = 1 it takes the sum.
- The responses come back in the order given, each recorded under its own
  name, and the counts equal the server's.
- The requests share the user's cookie jar; a bad entry is a clear error.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, write_scenario

DELAY = 0.3


class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = {}
    cookies = []
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with Slow.lock:
            Slow.counts[path] = Slow.counts.get(path, 0) + 1
            Slow.cookies.append(self.headers.get("Cookie"))
        if path == "/login":
            body = b"in"
            self.send_response(200)
            self.send_header("Set-Cookie", "sid=s1; Path=/")
        else:
            time.sleep(3 if path == "/stuck" else DELAY)
            body = path.encode()
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def slow_server():
    Slow.counts, Slow.cookies = {}, []
    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), Slow)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.shutdown()
        srv.server_close()


SCENARIO = """
U = cicada.user {{ wait_time = cicada.constant(0.1) }}
function U:on_start() self.client:get("/login") end
U:task(function(self)
  local t0 = cicada.now()
  local rs = self.client:batch({{
    {{ "GET", "/a", name = "a" }},
    {{ "GET", "/b", name = "b" }},
    {{ "get", "/c?x=1", name = "c" }},
    "/d",
  }}, {opts})
  local ms = (cicada.now() - t0) * 1000
  local order = ""
  for i, r in ipairs(rs) do order = order .. r.status_code .. r.text .. ";" end
  local want = "200/a;200/b;200/c;200/d;"
  cicada.report {{ name = "batch", response_time = ms,
                  exception = order ~= want and ("order: " .. order) or nil }}
end)
"""


def run_batch(run_cicada, tmp_path, host, opts, run_time):
    f = write_scenario(tmp_path, SCENARIO.format(opts=opts))
    # --stop-timeout: a batch in flight at the stop completes (not cut), so
    # that the counts can be compared with the server's exactly
    run = run_cicada(["-f", f, "-H", host, "--headless", "-u", "1", "-r", "1", "-t", run_time,
                      "--stop-timeout", "5", "--only-summary"])
    assert run.returncode == 0, run.output
    row = run.stats_row("batch")
    assert row is not None and int(row["Failure Count"]) == 0, run.output
    return run, row


@pytest.mark.time_limit(60)
def test_batch_takes_the_slowest_not_the_sum(slow_server, run_cicada, tmp_path):
    run, row = run_batch(run_cicada, tmp_path, slow_server, "nil", "3s")
    assert int(row["Request Count"]) >= 3, run.output
    one = DELAY * 1000
    assert one < float(row["Min Response Time"]), row
    assert float(row["Max Response Time"]) < 2 * one, row
    # each request recorded under its own name; counts equal the server's
    for name, path in (("a", "/a"), ("b", "/b"), ("c", "/c"), ("/d", "/d")):
        assert run.count(name, "GET") == int(row["Request Count"]), (name, run.output)
        assert Slow.counts.get(path, 0) == run.count(name, "GET"), (name, Slow.counts)
    # the cookie the user got before the batch went out on every request of it
    assert Slow.cookies.count("sid=s1") == sum(Slow.counts.get(p, 0) for p in ("/a", "/b", "/c", "/d"))


@pytest.mark.time_limit(60)
def test_batch_parallel_one_is_sequential(slow_server, run_cicada, tmp_path):
    run, row = run_batch(run_cicada, tmp_path, slow_server, "{ parallel = 1 }", "3s")
    assert float(row["Min Response Time"]) >= 4 * DELAY * 1000 * 0.95, row


BAD = """
U = cicada.user { wait_time = cicada.constant(1) }
U:task(function(self)
  self.client:batch{ { "GET", "/a" }, { "/b" } }
end)
"""


@pytest.mark.time_limit(60)
def test_batch_bad_entry_is_a_clear_error(run_cicada, tmp_path):
    f = write_scenario(tmp_path, BAD)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-r", "1",
                      "-t", "1s", "--only-summary"])
    msgs = " ".join(r["Message"] for r in run.csv["exceptions"])
    assert "client:batch: request 2 must be {method, url, options...}" in msgs, msgs


CUT = """
U = cicada.user { wait_time = cicada.constant(0) }
U:task(function(self)
  self.client:batch{ "/a", "/stuck", "/stuck" }
  cicada.report { name = "after", response_time = 0 }   -- never: the batch is cut
end)
function U:on_stop() cicada.report { name = "on_stop", response_time = 0 } end
"""


@pytest.mark.time_limit(60)
def test_batch_in_flight_at_the_stop_is_cut(slow_server, run_cicada, tmp_path):
    f = write_scenario(tmp_path, CUT)
    run = run_cicada(["-f", f, "-H", slow_server, "--headless", "-u", "2", "-r", "10", "-t", "1s",
                      "--only-summary"], timeout=20)
    assert run.returncode == 0, run.output
    assert run.duration < 3, run.output  # did not wait for /stuck
    assert run.count("on_stop") == 2, run.output
    assert run.count("after") == 0 and run.count("/stuck") == 0, run.output
    assert run.count("/a") == 2, run.output


PER_ORIGIN = """
U = cicada.user {{ wait_time = cicada.constant(0.1) }}
U:task(function(self)
  local t0 = cicada.now()
  local rs = self.client:batch({{ "/a", "/b", "http://localhost:{port}/c",
                                 "{host}/d", "http://localhost:{port}/e" }}, {{ parallel = {par} }})
  local ok = #rs == 5
  for _, r in ipairs(rs) do ok = ok and r.status_code == 200 end
  cicada.report {{ name = "batch", response_time = (cicada.now() - t0) * 1000,
                  exception = not ok and "a request failed" or nil }}
end)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("par,rounds", [(1, 3), (2, 2), (3, 1)])
def test_batch_parallel_is_per_origin(slow_server, run_cicada, tmp_path, par, rounds):
    """/a, /b and {host}/d are one origin (127.0.0.1), /c and /e another
    (localhost): with parallel = 1 the first takes 3 rounds of 300 ms while
    the second runs beside it; parallel = 2, 2 rounds; parallel = 3, 1."""
    port = slow_server.rsplit(":", 1)[1]
    f = write_scenario(tmp_path, PER_ORIGIN.format(port=port, host=slow_server, par=par))
    run = run_cicada(["-f", f, "-H", slow_server, "--headless", "-u", "1", "-r", "1", "-t", "2s",
                      "--stop-timeout", "5", "--only-summary"])
    assert run.returncode == 0, run.output
    row = run.stats_row("batch")
    assert row is not None and int(row["Failure Count"]) == 0, run.output
    one = DELAY * 1000
    assert rounds * one < float(row["Min Response Time"]), row
    assert float(row["Max Response Time"]) < (rounds + 1) * one, row
