"""cicada's own metrics for Prometheus (issue 12): /metrics on the web UI's
port and on --metrics-bind in headless runs.

- Debian's `promtool check metrics` accepts the exposition of a run whose
  request names hold quotes, backslashes, newlines and invalid UTF-8 (and
  refuses a broken one, so the check is not vacuous);
- a real Prometheus (Debian's /usr/bin/prometheus, scrape_interval 1s),
  started here and stopped by its PID, scrapes a headless cicada: the
  request counter it stored equals the CSV's count. The users make a fixed
  number of requests in the first second or so and then sleep until the
  run ends 4 s in, so the last scrapes all see the final figures: the
  comparison is exact, not "within one scrape interval";
- --web-auth guards /metrics (401 without credentials), and its counters
  do not go down after /stats/reset;
- a master with two workers shows per-worker series.

Everything listens on 127.0.0.1; every process is killed by its PID.
"""

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import CICADA, free_port, read_csvs, stop_process, wait_port

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Names a scraper must survive: a quote, a backslash, a newline, bytes that
# are not UTF-8, and UTF-8 that is.
AWKWARD = """
U = cicada.user { wait_time = cicada.constant(0.01) }
U:task(1, function(self)
  cicada.report{type = "GET", name = 'say "hi"', response_time = 1.5, response_length = 3}
  cicada.report{type = "GET", name = "back\\\\slash\\\\n", response_time = 30, response_length = 3}
  cicada.report{type = "POST", name = "two\\nlines", response_time = 700, response_length = 3,
                exception = "boom"}
  cicada.report{type = "GET", name = "latin1 caf\\233", response_time = 2, response_length = 3}
  cicada.report{type = "GET", name = "caf\\195\\169 \\226\\130\\172", response_time = 2,
                response_length = 3}
  if math.random() < 0.2 then error("scenario bug") end
end)
"""


class Proc:
    """A process of ours, logging to <dir>/<name>.log, killed by its PID."""

    def __init__(self, name, cmd, cwd):
        self.name = name
        self.log = cwd / f"{name}.log"
        self._f = open(self.log, "w")
        self.p = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=self._f, stderr=subprocess.STDOUT)

    def text(self):
        return self.log.read_text(errors="replace")

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {timeout} s\n{self.text()}")

    def stop(self, sig=signal.SIGKILL):
        stop_process(self.p, sig)
        self._f.close()


@pytest.fixture
def procs(tmp_path):
    started = []

    def start(name, cmd):
        p = Proc(name, cmd, tmp_path)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def get(port, path, auth=None, method="GET"):
    """(status, headers, body bytes) of one request to 127.0.0.1:port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"" if method == "POST" else None)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def samples(text):
    """{series as written (name and labels): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def scrape_until(port, pred, timeout=10, auth=None):
    """Scrape /metrics until pred(samples) holds; returns the last text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            status, _, body = get(port, "/metrics", auth)
            text = body.decode()
            if status == 200 and pred(samples(text)):
                return text
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s; last scrape:\n{text}")


def promtool(text):
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30)


def test_promtool_accepts_awkward_names(tmp_path, procs):
    """Headless --metrics-bind: the exposition passes promtool, escapes the
    names as the format says, and the port serves nothing but /metrics."""
    (tmp_path / "s.lua").write_text(AWKWARD)
    port = free_port()
    c = procs("cicada", [CICADA, "-f", "s.lua", "--headless", "-u", 2, "-r", 100, "-t", 2,
                         "--metrics-bind", f"127.0.0.1:{port}"])
    wait_port(port, proc=c.p)
    text = scrape_until(port, lambda s: s.get("cicada_exceptions_total", 0) > 0 and any(
        k.startswith("cicada_requests_total") and v > 0 for k, v in s.items()))
    status, headers, _ = get(port, "/metrics")
    assert status == 200 and headers["Content-Type"] == CONTENT_TYPE
    r = promtool(text)
    assert r.returncode == 0, (r.stdout + r.stderr).decode() + text
    s = samples(text)
    for name in ['say \\"hi\\"', "back\\\\slash\\\\n", "two\\nlines", "latin1 caf\ufffd",
                 "caf\u00e9 \u20ac"]:
        assert any(k.startswith(f'cicada_requests_total{{name="{name}",') for k in s), (name, text)
    assert s['cicada_request_failures_total{name="two\\nlines",method="POST"}'] > 0
    # 700 ms is above 0.5 s and below 1 s: every bucket count in its place
    b = 'cicada_response_time_seconds_bucket{name="two\\nlines",method="POST",le="%s"}'
    assert s[b % "0.5"] == 0 and s[b % "1"] == s[b % "+Inf"] > 0
    assert "# TYPE cicada_response_time_seconds histogram" in text
    assert s['cicada_state{state="running"}'] == 1 and s["cicada_users"] == 2
    # nothing but /metrics on this port
    assert get(port, "/")[0] == 404
    assert get(port, "/stats/requests")[0] == 404
    assert get(port, "/ws")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    assert c.wait(20) == 1, c.text()  # exit code 1: the scenario raised exceptions

    # the control: promtool does refuse a broken exposition
    broken = text.replace('\\"hi\\"', '"hi"', 1)
    assert broken != text and promtool(broken).returncode != 0


BOUNDED = """
U = cicada.user { wait_time = cicada.constant(0.005) }
function U:on_start() self.n = 0 end
U:task(1, function(self)
  if self.n >= 60 then cicada.sleep(60) return end  -- done: idle until the run ends
  self.n = self.n + 1
  self.client:get("/x")
end)
"""


def prom_query(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        d = json.loads(r.read())
    assert d["status"] == "success", d
    return d["data"]["result"]


@pytest.mark.time_limit(60)
def test_real_prometheus_stores_the_counts(tmp_path, nginx, procs):
    """Prometheus scrapes a headless cicada every second; the request
    counter it stored equals the CSV's (and nginx's) count."""
    mport, pport = free_port(), free_port()
    (tmp_path / "prom.yml").write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cicada
    static_configs:
      - targets: ['127.0.0.1:{mport}']
""")
    prom = procs("prometheus", [PROMETHEUS, f"--config.file={tmp_path / 'prom.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{pport}"])
    # Prometheus applies discovered targets every 5 s (a fixed tick of its
    # scrape manager): wait until it has our target, then start cicada.
    deadline = time.monotonic() + 20
    while True:
        try:
            status, _, body = get(pport, "/api/v1/targets")
            if status == 200 and json.loads(body)["data"]["activeTargets"]:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline and prom.p.poll() is None, prom.text()
        time.sleep(0.1)

    (tmp_path / "s.lua").write_text(BOUNDED)
    c = procs("cicada", [CICADA, "-f", "s.lua", "--headless", "-u", 3, "-r", 100, "-t", 4,
                         "-H", nginx.url, "--metrics-bind", f"127.0.0.1:{mport}",
                         "--csv", tmp_path / "out"])
    assert c.wait(30) == 0, c.text()
    _, csvs = read_csvs(tmp_path / "out")
    row = [r for r in csvs["stats"] if r["Name"] == "/x"][0]
    count = int(row["Request Count"])
    assert count == 180 == nginx.count("/x"), (row, c.text())

    # The series went stale when cicada left: ask for the newest value
    # within the last minute (a counter's maximum is its last value).
    q = 'max_over_time(cicada_requests_total{job="cicada",name="/x",method="GET"}[1m])'
    res = prom_query(pport, q)
    assert len(res) == 1, res
    assert float(res[0]["value"][1]) == count, (res, count)
    res = prom_query(pport, 'max_over_time(cicada_response_time_seconds_count{name="/x"}[1m])')
    assert res and float(res[0]["value"][1]) == count, res
    res = prom_query(pport, 'max_over_time(cicada_response_time_seconds_bucket'
                            '{name="/x",le="+Inf"}[1m])')
    assert res and float(res[0]["value"][1]) == count, res
    res = prom_query(pport, 'max_over_time(cicada_users[1m])')
    assert res and float(res[0]["value"][1]) == 3, res
    prom.stop(signal.SIGTERM)


def test_web_auth_guards_metrics_and_reset_keeps_counters(tmp_path, nginx, procs):
    """With --web-auth, /metrics (on the UI's port and on --metrics-bind)
    is a 401 without credentials; after /stats/reset the tables restart
    from zero while the counters go on from where they were."""
    (tmp_path / "s.lua").write_text("""
U = cicada.user { wait_time = cicada.constant(0.02) }
U:task(1, function(self) self.client:get("/r") end)
""")
    web, mport = free_port(), free_port()
    auth = "admin:s3cret"
    c = procs("cicada", [CICADA, "-f", "s.lua", "--autostart", "-u", 2, "-r", 100,
                         "-H", nginx.url, "--web-host", "127.0.0.1", "--web-port", web,
                         "--web-auth", auth, "--metrics-bind", f"127.0.0.1:{mport}"])
    wait_port(web, proc=c.p)
    wait_port(mport, proc=c.p)
    for port in (web, mport):
        status, headers, _ = get(port, "/metrics")
        assert status == 401 and "Basic" in headers["WWW-Authenticate"]
        assert get(port, "/metrics", auth="admin:wrong")[0] == 401

    series = 'cicada_requests_total{name="/r",method="GET"}'
    text = scrape_until(web, lambda s: s.get(series, 0) >= 20, auth=auth)
    assert promtool(text).returncode == 0
    before = samples(text)[series]
    status, _, _ = get(web, "/stats/reset", auth=auth, method="POST")
    assert status == 200
    deadline = time.monotonic() + 5
    while True:  # the reset has run: the table restarted below what the counter had
        _, _, body = get(web, "/stats/requests", auth=auth)
        table = [r["num_requests"] for r in json.loads(body)["stats"] if r["name"] == "/r"]
        if table and table[0] < before:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    # what the reset cleared (at least `before`) is carried, plus the table
    after = samples(get(web, "/metrics", auth=auth)[2].decode())[series]
    assert after >= before + table[0], (before, after, table)
    # the two servers show the same counters (give or take a merge)
    other = samples(get(mport, "/metrics", auth=auth)[2].decode())[series]
    assert other >= after
    c.stop(signal.SIGTERM)


@pytest.mark.time_limit(60)
def test_master_shows_each_worker(tmp_path, nginx, procs):
    """A headless master with two workers: cicada_workers is 2, and each
    worker has its users, CPU, memory and state series; promtool passes."""
    (tmp_path / "s.lua").write_text("""
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(1, function(self) self.client:get("/w") end)
""")
    port, mport = free_port(), free_port()
    master = procs("master", [CICADA, "-f", "s.lua", "--master", "--master-bind-host",
                              "127.0.0.1", "--master-bind-port", port, "--headless", "-u", 4,
                              "-r", 100, "-t", 30, "--expect-workers", 2, "-H", nginx.url,
                              "--metrics-bind", f"127.0.0.1:{mport}"])
    for i in (1, 2):
        procs(f"w{i}", [CICADA, "-f", "s.lua", "--worker", "--master-host", "127.0.0.1",
                        "--master-port", port, "--threads", 1])
    wait_port(mport, proc=master.p)

    def ready(s):
        users = {k: v for k, v in s.items() if k.startswith("cicada_worker_users{")}
        return (s.get("cicada_workers") == 2 and len(users) == 2
                and sorted(users.values()) == [2, 2] and s.get("cicada_users") == 4
                and any(k.startswith("cicada_requests_total") and v > 0 for k, v in s.items()))

    text = scrape_until(mport, ready, timeout=15)
    r = promtool(text)
    assert r.returncode == 0, (r.stdout + r.stderr).decode() + text
    s = samples(text)
    ids = sorted(re.findall(r'^cicada_worker_users\{worker="([^"]+)"\}', text, re.M))
    assert len(set(ids)) == 2, text
    for w in ids:
        assert s[f'cicada_worker_state{{worker="{w}",state="running"}}'] == 1, text
        assert s[f'cicada_worker_state{{worker="{w}",state="missing"}}'] == 0, text
        assert s[f'cicada_worker_memory_bytes{{worker="{w}"}}'] > 1e6, text
        assert s[f'cicada_worker_cpu_usage_ratio{{worker="{w}"}}'] >= 0, text
    master.stop(signal.SIGTERM)


def test_bad_metrics_bind_is_a_usage_error(cicada):
    for bad in ("9646", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", "h:x"):
        r = subprocess.run([str(cicada), "--metrics-bind", bad], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 2, (bad, r.stderr)
        assert "argument --metrics-bind: invalid value" in r.stderr, r.stderr
    r = subprocess.run([str(cicada), "--worker", "--metrics-bind", "127.0.0.1:9646"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--metrics-bind" in r.stderr, r.stderr
    r = subprocess.run([str(cicada), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--metrics-bind HOST:PORT" in r.stdout


def test_open_model_iterations_are_counters(tmp_path, procs):
    """An open-model run with too few users drops iterations: /metrics counts
    them in cicada_iterations_dropped_total (promtool accepts it), and the
    last scrape before exit never exceeds the --summary-json figures (the
    final merge may come after it)."""
    from conftest import demo_server
    site, mport = free_port(), free_port()
    f = tmp_path / "s.lua"
    f.write_text('U = cicada.user {}\nU:task(function(self) self.client:get("/slow") end)\n')
    summary = tmp_path / "summary.json"
    with demo_server(site, "--slow-delay", "0.5"):
        p = procs("cicada", [CICADA, "-f", f, "-H", f"http://127.0.0.1:{site}", "--headless",
                             "--arrival-rate", 20, "-u", 2, "-t", "3s", "--only-summary",
                             "--metrics-bind", f"127.0.0.1:{mport}", "--summary-json", summary])
        wait_port(mport, 10, p.p)
        last = {}
        while p.p.poll() is None:  # the last scrape before it exits
            try:
                status, _, body = get(mport, "/metrics")
                if status == 200:
                    text = body.decode()
                    last = samples(text)
            except OSError:
                pass
            time.sleep(0.05)
        assert p.wait(30) == 0, p.text()
    doc = json.loads(summary.read_text())
    assert doc["dropped"] > 0, doc
    assert last["cicada_iterations_dropped_total"] > 0, last
    assert last["cicada_iterations_dropped_total"] <= doc["dropped"]
    assert last["cicada_iterations_late_total"] <= doc["late"]
    rc = promtool(text)
    assert rc.returncode == 0, rc.stdout + rc.stderr
