"""End-to-end test harness: real processes against real local servers.

Fixtures and helpers shared by every e2e test:

- `repo`, `cicada`: the repository root and the built ./cicada binary. A
  missing binary is a failure, never a skip (`make e2e` builds it first).
- `free_port()`: a TCP port on 127.0.0.1 that nothing listens on right now.
- `nginx`: a real nginx (Debian's /usr/sbin/nginx) with its own generated
  config, pid file, logs and temp paths in the test's tmp dir, listening on a
  free port of 127.0.0.1. Its access log has one line per request
  ("METHOD URI STATUS BYTES"), so a test can count what the server really
  served and compare it with what cicada reports. Stopped by its own PID.
- `run_cicada(...)`: runs ./cicada with a hard timeout (the process is always
  killed at the end) and returns its exit code, output and parsed CSV files.
- `run_locust(...)`, `REFERENCE_LOCUSTFILE`, `REFERENCE_SCENARIO`: a run of
  the real Locust, and one user as a locustfile and as a cicada scenario.
- Every test has a time limit (SIGALRM, default 120 s, or the
  `time_limit(seconds)` marker); subprocess timeouts come first.

All traffic goes to 127.0.0.1 only, and every run is bounded in time.
"""

import contextlib
import csv
import io
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# CICADA_BIN=/path/to/cicada runs the suite against another build (e.g. to
# show that a new test fails on the build before a fix).
CICADA = Path(os.environ.get("CICADA_BIN", REPO / "cicada"))
NGINX = "/usr/sbin/nginx"
LOCUST = "/usr/bin/locust"
CSV_KINDS = ("stats", "stats_history", "failures", "exceptions")

DEFAULT_TIME_LIMIT = 120


# ---------------------------------------------------------------- time limit


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "time_limit(seconds): fail the test if it runs longer than this"
    )


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Fail any test that runs past its limit (a last resort: every
    subprocess call has its own, shorter timeout)."""
    marker = request.node.get_closest_marker("time_limit")
    limit = int(marker.args[0]) if marker else DEFAULT_TIME_LIMIT

    def expired(signum, frame):
        pytest.fail(f"test exceeded its time limit of {limit} s", pytrace=False)

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- basics


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def cicada():
    """Path of the cicada binary; the test fails (not skips) if it is missing."""
    assert CICADA.is_file(), f"{CICADA} does not exist: run `make` first"
    assert os.access(CICADA, os.X_OK), f"{CICADA} is not executable"
    return CICADA


def free_port():
    """A port on 127.0.0.1 with nothing listening on it (at the time of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stop a process we started, by its PID: `sig`, then SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=5)
    except ProcessLookupError:
        return proc.wait(timeout=5)


# ---------------------------------------------------------------- nginx

# The parts of an nginx.conf every test nginx has: the top (with `{user}`
# and `{d}`, the nginx's dir) and, in the http block, the temp paths in `d`.
NGINX_CONF_TOP = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
"""

NGINX_TEMP_PATHS = """\
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
"""

NGINX_CONF = NGINX_CONF_TOP + """\

events {{
    worker_connections 4096;
}}

http {{
    default_type text/plain;
    log_format e2e '$request_method $request_uri $status $body_bytes_sent';
    access_log {d}/access.log e2e;
""" + NGINX_TEMP_PATHS + """\
    keepalive_requests 1000000;
    keepalive_timeout 65;

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {d}/www;

        location = /         {{ return 200 "hello from nginx\\n"; }}
        location = /fast     {{ return 200 "fast\\n"; }}
        location = /a        {{ return 200 "aaaa\\n"; }}
        location = /b        {{ return 200 "bbbb\\n"; }}
        location = /c        {{ return 200 "cccc\\n"; }}
        location = /start    {{ return 200 "start\\n"; }}
        location = /stop     {{ return 200 "stop\\n"; }}
        location = /status404 {{ return 404 "not here\\n"; }}
        location = /status500 {{ return 500 "broken\\n"; }}
        location = /redirect {{ return 302 /fast; }}
        location = /big      {{ }}
        # /slow is the demo site's, through nginx so that it is logged:
        # start `cicada demo-server --port <nginx.upstream_port>` to serve it.
        location /slow {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_read_timeout 30s;
        }}
        location /           {{ return 200 "any\\n"; }}
    }}
}}
"""


class Nginx:
    """A private nginx on 127.0.0.1:port, configured and logging in `d`."""

    def __init__(self, d: Path):
        self.dir = d
        self.port = free_port()
        self.upstream_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = d / "access.log"
        self.error_log = d / "error.log"
        self.proc = None

    def config(self, user):
        """The text of nginx.conf (`user`: the user line or ""). Also writes
        the 1 MiB file /big serves. A subclass with its own config overrides it."""
        (self.dir / "www" / "big").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
        return NGINX_CONF.format(d=self.dir, port=self.port, user=user,
                                 upstream=self.upstream_port)

    def start(self, timeout=10.0):
        d = self.dir
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        (d / "www").mkdir(exist_ok=True)
        # As root, nginx's workers would run as "nobody" and could not read
        # the tmp dir (pytest makes it 0700): keep them as root here.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = d / "nginx.conf"
        conf.write_text(self.config(user))
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(d), "-c", str(conf), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_port(self.port, timeout, self.proc)
        except AssertionError:
            self.stop()
            err = self.error_log.read_text() if self.error_log.exists() else ""
            raise AssertionError(f"nginx did not start on {self.url}: {err}")
        return self

    def stop(self):
        """Graceful stop by our own PID (QUIT), then KILL if it hangs."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGQUIT, timeout=10)
            if self.proc.stderr:
                self.proc.stderr.close()

    def log_lines(self, settle=0.3, timeout=5.0):
        """The access log as a list of (method, uri, status) tuples. Waits
        until the log has not grown for `settle` seconds, because nginx
        writes a line just after it sends the response."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            cur = self.access_log.stat().st_size if self.access_log.exists() else 0
            if cur != size:
                size, since = cur, time.monotonic()
            elif time.monotonic() - since >= settle:
                break
            time.sleep(0.05)
        out = []
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                f = line.split(" ")
                if len(f) == 4 and f[2].isdigit():  # skip a line being written
                    out.append((f[0], f[1], int(f[2])))
        return out

    def count(self, path=None, method=None, status=None, settle=0.3):
        """Number of requests nginx logged, optionally for one path (query
        string ignored), method and/or status. settle=0 to poll while a
        run is going on."""
        n = 0
        for m, uri, st in self.log_lines(settle=settle):
            if path is not None and uri.split("?", 1)[0] != path:
                continue
            if method is not None and m != method:
                continue
            if status is not None and st != status:
                continue
            n += 1
        return n

    def counts_by_path(self):
        """{path: count} over the whole access log (query strings ignored)."""
        out = {}
        for _, uri, _ in self.log_lines():
            p = uri.split("?", 1)[0]
            out[p] = out.get(p, 0) + 1
        return out


@pytest.fixture
def nginx(tmp_path):
    n = Nginx(tmp_path / "nginx")
    n.dir.mkdir()
    n.start()
    try:
        yield n
    finally:
        n.stop()


# ---------------------------------------------------------------- demo site


@contextlib.contextmanager
def demo_server(port, *flags):
    """`cicada demo-server` on 127.0.0.1:port for the duration of the block."""
    proc = subprocess.Popen([str(CICADA), "demo-server", "--bind", "127.0.0.1", "--port", str(port),
                             *[str(f) for f in flags]],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 10, proc)
        yield proc
    finally:
        stop_process(proc, timeout=5)


# ---------------------------------------------------------------- Locust reference runs

# A user that requests /fast (200) and /status404 (404), as a locustfile for
# the real Locust and as the same scenario for cicada; tests may add tasks.
REFERENCE_LOCUSTFILE = """\
from locust import HttpUser, task, constant

class Reference(HttpUser):
    wait_time = constant(0.1)

    @task
    def fast(self):
        self.client.get("/fast", name="fast")

    @task
    def missing(self):
        self.client.get("/status404", name="missing")
"""

REFERENCE_SCENARIO = """\
Reference = cicada.user { wait_time = cicada.constant(0.1) }
Reference:task(1, function(self) self.client:get("/fast", { name = "fast" }) end)
Reference:task(1, function(self) self.client:get("/status404", { name = "missing" }) end)
"""


def run_locust(d: Path, locustfile, args, timeout=40):
    """Run the real /usr/bin/locust on `locustfile` (written into the new
    dir `d`, its working dir) with `args`; a timeout is a failure."""
    d.mkdir()
    (d / "locustfile.py").write_text(locustfile)
    try:
        return subprocess.run([LOCUST, "-f", "locustfile.py", *args], cwd=d,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"locust did not finish: {e}")


# ---------------------------------------------------------------- cicada runs


@dataclass
class Run:
    """The outcome of one cicada run."""

    returncode: int
    stdout: str
    stderr: str
    duration: float
    csv_prefix: Path = None
    header: dict = field(default_factory=dict)  # kind -> raw first line, with its line end
    csv: dict = field(default_factory=dict)  # kind -> list of dicts (csv.DictReader)

    @property
    def output(self):
        return f"--- exit code {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def stats_row(self, name, method=None):
        """The _stats.csv row of `name` (and `method`), or None."""
        for row in self.csv.get("stats", []):
            if row["Name"] == name and (method is None or row["Type"] == method):
                return row
        return None

    def count(self, name, method=None):
        row = self.stats_row(name, method)
        return int(row["Request Count"]) if row else 0

    def failures(self, name, method=None):
        row = self.stats_row(name, method)
        return int(row["Failure Count"]) if row else 0


def read_csvs(prefix: Path):
    """({kind: raw header line}, {kind: [rows]}) for the CSV files that exist."""
    headers, rows = {}, {}
    for kind in CSV_KINDS:
        p = Path(f"{prefix}_{kind}.csv")
        if not p.exists():
            continue
        data = p.read_bytes().decode("utf-8")
        first_end = data.find("\n")
        headers[kind] = data[: first_end + 1] if first_end >= 0 else data
        rows[kind] = list(csv.DictReader(io.StringIO(data, newline="")))
    return headers, rows


def write_scenario(tmp_path, text, name="scenario.lua"):
    p = tmp_path / name
    p.write_text(text)
    return p


def finish(proc, timeout, start, csv_prefix):
    """Wait for a cicada process (killing it at the deadline) and collect a Run."""
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate(timeout=10)
    run = Run(proc.returncode, out, err, time.monotonic() - start, csv_prefix)
    if timed_out:
        raise AssertionError(f"cicada did not exit within {timeout} s\n{run.output}")
    if csv_prefix is not None:
        run.header, run.csv = read_csvs(csv_prefix)
    return run


@pytest.fixture
def run_cicada(tmp_path, cicada):
    """run_cicada(args, timeout=30, csv=True, cwd=tmp_path, env=None, prefix="out") -> Run.

    `args` is the full argument list after the binary. With csv=True a
    `--csv <tmp>/<prefix>` is appended and the four files are parsed."""

    def run(args, timeout=30, csv=True, cwd=None, env=None, prefix="out"):
        prefix = tmp_path / prefix if csv else None
        cmd = [str(cicada)] + [str(a) for a in args]
        if csv:
            cmd += ["--csv", str(prefix)]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd or tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            return finish(proc, timeout, start, prefix)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    return run


@pytest.fixture
def spawn_cicada(tmp_path, cicada):
    """spawn_cicada(args) -> (Popen, finish(timeout) -> Run): for tests that
    signal the process while it runs. The process is killed at teardown."""
    procs = []

    def spawn(args, csv=True):
        prefix = tmp_path / "out" if csv else None
        cmd = [str(cicada)] + [str(a) for a in args]
        if csv:
            cmd += ["--csv", str(prefix)]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc, lambda timeout=30: finish(proc, timeout, start, prefix)

    yield spawn
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def assert_complete_csvs(run, expect_names=()):
    """The four CSV files exist, parse, and the stats file ends with the
    Aggregated row whose counts are the sums of the named rows."""
    for kind in CSV_KINDS:
        assert kind in run.header, f"{run.csv_prefix}_{kind}.csv missing\n{run.output}"
        raw = Path(f"{run.csv_prefix}_{kind}.csv").read_bytes()
        assert raw.endswith(b"\r\n"), f"_{kind}.csv does not end with a full line"
    stats = run.csv["stats"]
    assert stats, f"_stats.csv has no rows\n{run.output}"
    agg = stats[-1]
    assert agg["Type"] == "" and agg["Name"] == "Aggregated", f"last row is not Aggregated: {agg}"
    rows = stats[:-1]
    for name in expect_names:
        assert run.stats_row(name) is not None, f"no _stats.csv row for {name!r}: {stats}"
    assert int(agg["Request Count"]) == sum(int(r["Request Count"]) for r in rows)
    assert int(agg["Failure Count"]) == sum(int(r["Failure Count"]) for r in rows)
    hist = run.csv["stats_history"]
    assert hist, "_stats_history.csv has no rows"
    assert hist[-1]["Name"] == "Aggregated"
    return agg
