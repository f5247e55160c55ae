"""Names resolved without blocking (issue 9): cicada against a small DNS
server of the test's own (stdlib UDP, 127.0.0.1) and nginx.

The server answers A 127.0.0.1 (TTL 60 s) for fast.test and slow.test,
the latter after SLOW_DELAY seconds, NXDOMAIN for nx.test, and never
answers hang.test; AAAA questions get an empty answer. It counts the
questions per name.

- A lookup that hangs does not stall the other users of its engine thread
  (--threads 1): users of fast.test keep making requests all along. Run
  two ways: cicada pointed at the server by --resolver on a free port, and
  through /etc/resolv.conf (a mount namespace with its own resolv.conf and
  the server on 127.0.0.1:53, root only). A build without --resolver
  (CICADA_BIN=/work/baseline9/cicada) runs only the resolv.conf way: there
  the old blocking getaddrinfo stalls and the test fails.
- The never-answered name fails within --resolver-timeout with a clear
  error and the run ends on time; NXDOMAIN keeps the text of
  getaddrinfo's days; the delayed name succeeds, its lookup counted in the
  response time; one query per name per TTL however many users and
  connections (the cache).
"""

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections import Counter

import pytest

from conftest import CICADA, read_csvs, write_scenario

SLOW_DELAY = 0.6
TTL = 60


class DnsServer:
    """A UDP DNS server on 127.0.0.1:port (0: a free one), in a thread."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.queries = Counter()  # (name, qtype) -> count
        self.ids = {}  # (name, qtype) -> set of query ids (a retransmission keeps its id)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            self.handle(data, peer)

    def handle(self, data, peer):
        if len(data) < 12:
            return
        labels, i = [], 12
        while i < len(data) and data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace").lower())
            i += 1 + data[i]
        end = i + 5
        if end > len(data):
            return
        name, qtype = ".".join(labels), struct.unpack("!H", data[end - 4:end - 2])[0]
        self.queries[(name, qtype)] += 1
        self.ids.setdefault((name, qtype), set()).add(data[:2])
        if name == "hang.test":
            return
        nx = name not in ("fast.test", "slow.test")
        answer = b""
        if qtype == 1 and not nx:
            answer = struct.pack("!HHHIH4s", 0xC00C, 1, 1, TTL, 4, socket.inet_aton("127.0.0.1"))
        header = data[:2] + struct.pack("!HHHHH", 0x8180 | (3 if nx else 0), 1,
                                        1 if answer else 0, 0, 0)
        reply = header + data[12:end] + answer
        if name == "slow.test":
            t = threading.Timer(SLOW_DELAY, self.send, (reply, peer))
            t.daemon = True
            t.start()
        else:
            self.send(reply, peer)

    def send(self, reply, peer):
        try:
            self.sock.sendto(reply, peer)
        except OSError:
            pass

    def a_queries(self, name):
        """Questions for name's A record, retransmissions not counted."""
        return len(self.ids.get((name, 1), ()))

    def close(self):
        self.done.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dns():
    d = DnsServer()
    try:
        yield d
    finally:
        d.close()


def has_resolver_flag():
    """Does the binary under test know --resolver (the baseline does not)?"""
    r = subprocess.run([str(CICADA), "--help"], capture_output=True, text=True, timeout=10)
    return "--resolver" in r.stdout


def mount_ns_works():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=10)
    return r.returncode == 0


def run_cicada_via_resolv_conf(tmp_path, args, timeout):
    """cicada with its own /etc/resolv.conf (nameserver 127.0.0.1), in a
    mount namespace: the way to point a build without --resolver at the
    test server. Returns (returncode, stdout+stderr, seconds)."""
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
    script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    cmd = ["unshare", "--mount", "sh", "-c", script, "sh", str(conf), str(CICADA)] + [
        str(a) for a in args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return proc.returncode, out, time.monotonic() - start


STALL = """
Fast = cicada.user { host = "http://fast.test:%(port)d", wait_time = cicada.constant(0.02) }
Fast:task(function(self) self.client:get("/fast") end)
Hang = cicada.user { host = "http://hang.test:%(port)d", fixed_count = 1 }
Hang:task(function(self)
  cicada.sleep(0.5) -- the fast users get going first
  self.client:get("/hang")
end)
"""


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("how", ["flag", "resolv.conf"])
def test_a_hanging_lookup_does_not_stall_the_thread(how, nginx, tmp_path):
    if how == "flag" and not has_resolver_flag():
        pytest.skip("this build has no --resolver: the resolv.conf way tests it")
    if how == "resolv.conf" and not mount_ns_works():
        pytest.skip("needs root and unshare --mount")
    try:
        server = DnsServer(53 if how == "resolv.conf" else 0)
    except OSError as e:
        pytest.skip(f"cannot serve DNS on 127.0.0.1:53: {e}")
    try:
        f = write_scenario(tmp_path, STALL % {"port": nginx.port})
        args = ["-f", f, "--headless", "-u", "4", "-r", "100", "-t", "4s", "--threads", "1",
                "--only-summary", "--csv", tmp_path / "out"]
        if how == "flag":
            args += ["--resolver", f"127.0.0.1:{server.port}"]
        rc, out, took = run_cicada_via_resolv_conf(tmp_path, args, 30) if how == "resolv.conf" \
            else run_plain(tmp_path, args, 30)
    finally:
        server.close()
    assert server.a_queries("hang.test") >= 1, (server.queries, out)
    fast = nginx.count("/fast")
    # 3 fast users at up to 50 requests/s for 4 s: several hundred. A stall
    # from 0.5 s on would leave them the first half second: 75 at most.
    assert fast >= 200, f"{fast} /fast requests: the thread stalled\n{out}"
    assert took < 12, f"run took {took:.1f} s\n{out}"


def run_plain(tmp_path, args, timeout):
    start = time.monotonic()
    proc = subprocess.run([str(CICADA)] + [str(a) for a in args], cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


NAMES = """
local close = { headers = { Connection = "close" } } -- a new connection, a new lookup, each time
Fast = cicada.user { host = "http://fast.test:%(port)d", wait_time = cicada.constant(0.05) }
Fast:task(function(self) self.client:get("/fast", close) end)
Slow = cicada.user { host = "http://slow.test:%(port)d", fixed_count = 1,
                     wait_time = cicada.constant(0.05) }
Slow:task(function(self) self.client:get("/delayed", close) end)
Hang = cicada.user { host = "http://hang.test:%(port)d", fixed_count = 1,
                     wait_time = cicada.constant(0.1) }
Hang:task(function(self) self.client:get("/hang") end)
Nx = cicada.user { host = "http://nx.test:%(port)d", fixed_count = 1,
                   wait_time = cicada.constant(0.1) }
Nx:task(function(self) self.client:get("/nx") end)
Sock = cicada.user { fixed_count = 1, wait_time = cicada.constant(0.1) }
Sock:task(function(self)
  local s = ngx.socket.tcp()
  local ok, err = s:connect("fast.test", %(port)d)
  cicada.report { name = "sock fast", response_time = 1, exception = not ok and err or nil }
  s:close()
  ok, err = s:connect("nx.test", %(port)d)
  cicada.report { name = "sock nx", response_time = 1, exception = not ok and err or nil }
end)
"""


@pytest.mark.time_limit(60)
def test_names_errors_and_the_cache(dns, nginx, run_cicada, tmp_path):
    if not has_resolver_flag():
        pytest.skip("this build has no --resolver")
    f = write_scenario(tmp_path, NAMES % {"port": nginx.port})
    run = run_cicada(["-f", f, "--headless", "-u", "8", "-r", "100", "-t", "4s", "--threads", "1",
                      "--only-summary", "--resolver", f"127.0.0.1:{dns.port}",
                      "--resolver-timeout", "1.5"], timeout=30)
    # the run ends on time although hang.test is never answered
    assert run.duration < 10, run.output
    errors = {(r["Name"], r["Error"]) for r in run.csv["failures"]}
    assert ("/hang", "NameResolutionError(\"Failed to resolve 'hang.test' "
            "(lookup timed out after 1.5s)\")") in errors, run.output
    assert ("/nx", "NameResolutionError(\"Failed to resolve 'nx.test' "
            "(Name or service not known)\")") in errors, run.output
    assert run.count("/hang") >= 2 and run.failures("/hang") == run.count("/hang"), run.output
    assert run.count("/nx") >= 5 and run.failures("/nx") == run.count("/nx"), run.output
    # the delayed name works, and its first request counts the lookup
    slow = run.stats_row("/delayed")
    assert slow and int(slow["Failure Count"]) == 0 and int(slow["Request Count"]) >= 5, run.output
    assert float(slow["Max Response Time"]) >= SLOW_DELAY * 1000 * 0.9, slow
    fast = nginx.count("/fast")
    assert fast >= 100 and run.failures("/fast") == 0, (fast, run.output)
    # cosockets resolve the same way, with OpenResty's error text
    assert run.count("sock fast") >= 5 and run.failures("sock fast") == 0, run.output
    assert ("sock nx", "nx.test could not be resolved (Name or service not known)") in errors, \
        errors
    # one query per name per TTL: hundreds of connections, one question each
    assert dns.a_queries("fast.test") == 1, dns.queries
    assert dns.a_queries("slow.test") == 1, dns.queries
    # failures are kept RESOLVE_NEG_TTL_S (1 s): a few questions, not one per request
    assert 1 <= dns.a_queries("nx.test") <= 6 < run.count("/nx"), (dns.queries, run.count("/nx"))


@pytest.mark.time_limit(30)
def test_bad_resolver_is_refused(run_cicada, tmp_path):
    if not has_resolver_flag():
        pytest.skip("this build has no --resolver")
    f = write_scenario(tmp_path, 'U = cicada.user { host = "http://127.0.0.1:1" }\n'
                                 'U:task(function(self) end)\n')
    run = run_cicada(["-f", f, "--headless", "-u", "1", "-t", "1s", "--resolver", "dns.example"],
                     csv=False, timeout=20)
    assert run.returncode != 0, run.output
    assert "--resolver: 'dns.example' is not IP[:PORT]" in run.stderr, run.output
