"""Requests through a real HTTP proxy (Debian's tinyproxy), as Python
requests sends them (docs/proxies.md).

- HTTP_PROXY from the environment: plain http requests go to the proxy in
  absolute form (its log shows each one), and the counts cicada reports equal
  nginx's and the proxy's; NO_PROXY sends a host straight to nginx (the proxy
  sees none of its requests); a redirect's next hop goes through the proxy
  too; self.client.proxies and the per-request
  `proxy` option do the same as the variables.
- HTTPS_PROXY: https requests tunnel with CONNECT to the nginx TLS fixture
  (the test's CA verifies nginx's certificate through the tunnel), one
  tunnel per user kept alive, counts equal to nginx's.
- Proxy basic auth (tinyproxy's BasicAuth): credentials in the proxy URL
  pass, for http and https; without them an https request fails with
  requests' ProxyError text for the 407 to its CONNECT, and an http one with
  the 407 response (HTTPError), while nginx sees neither.
- A proxy that is down: each request fails with requests' ProxyError text,
  and the run goes on (a direct task keeps counting).
- Bad settings: a SOCKS or malformed proxy URL fails the request
  (InvalidProxyURL), a value of the wrong type is the scenario's error
  naming the key; nothing reaches nginx.
"""

import re
import subprocess
import time

import pytest

from conftest import free_port, stop_process, wait_port, write_scenario
from test_client import conf_nginx  # noqa: F401  (fixture)
from test_https import make_cert, tls_nginx

TINYPROXY = "/usr/bin/tinyproxy"


class Tinyproxy:
    """tinyproxy on a free 127.0.0.1 port, foreground, logging in d."""

    def __init__(self, d, connect_ports=(), auth=None):
        d.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = d / "tinyproxy.log"
        conf = [f"Port {self.port}", "Listen 127.0.0.1", "Allow 127.0.0.1", "Timeout 30",
                f'LogFile "{self.log}"', "LogLevel Connect", "MaxClients 64"]
        conf += [f"ConnectPort {p}" for p in connect_ports]
        if auth:
            conf.append(f"BasicAuth {auth[0]} {auth[1]}")
        self.conf = d / "tinyproxy.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, 10, self.proc)

    def stop(self):
        stop_process(self.proc, timeout=5)

    def lines(self, pattern):
        """Log lines matching the regex (after stop: the log is whole)."""
        text = self.log.read_text() if self.log.exists() else ""
        return [ln for ln in text.splitlines() if re.search(pattern, ln)]

    def requests(self, method, url_prefix):
        """Requests the proxy logged whose request line starts with method url_prefix."""
        return self.lines(r"Request \(file descriptor \d+\): " + re.escape(f"{method} {url_prefix}"))


@pytest.fixture
def tinyproxy(tmp_path):
    started = []

    def start(**kw):
        p = Tinyproxy(tmp_path / f"tinyproxy{len(started)}", **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def run(run_cicada, tmp_path, body, host, *flags, env=None, users=2, run_time="2s"):
    scenario = write_scenario(tmp_path, body, "proxy.lua")
    return run_cicada(["-f", scenario, "--headless", "-u", users, "-r", 20, "-t", run_time, "-H",
                       host, "--only-summary", *flags], timeout=40, env=env)


def clean_env(**extra):
    import os
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def errors(r):
    return {(row["Name"], row["Error"]) for row in r.csv.get("failures", [])}


@pytest.mark.time_limit(60)
def test_http_proxy_env_no_proxy_and_counts(tmp_path, nginx, tinyproxy, run_cicada):
    px = tinyproxy()
    body = f"""\
P = cicada.user {{ wait_time = cicada.constant(0.05) }}
P:task(1, function(self) self.client:get("/a", {{ name = "env" }}) end)
P:task(1, function(self) self.client:get("/redirect", {{ name = "redirect" }}) end)
P:task(1, function(self) self.client:get("http://localhost:{nginx.port}/b", {{ name = "bypass" }}) end)
P:task(1, function(self)
  self.client:get("http://localhost:{nginx.port}/c", {{ name = "option", proxy = "{px.url}" }})
end)
"""
    r = run(run_cicada, tmp_path, body, nginx.url,
            env=clean_env(HTTP_PROXY=px.url, NO_PROXY="localhost"))
    px.stop()
    assert r.returncode == 0, r.output
    n_env, n_bypass, n_opt = r.count("env"), r.count("bypass"), r.count("option")
    assert min(n_env, n_bypass, n_opt) > 5, r.output
    assert r.failures("env") == r.failures("bypass") == r.failures("option") == 0, r.output
    # the origin saw every request exactly once
    assert nginx.count("/a") == n_env and nginx.count("/b") == n_bypass
    assert nginx.count("/c") == n_opt
    # the proxy saw the proxied ones, in absolute form, and none of the bypassed
    assert len(px.requests("GET", f"http://127.0.0.1:{nginx.port}/a ")) == n_env
    assert len(px.requests("GET", f"http://localhost:{nginx.port}/c ")) == n_opt
    assert px.requests("GET", f"http://localhost:{nginx.port}/b") == []
    # a redirect's next hop goes through the proxy too
    n_red = r.count("redirect")
    assert n_red > 5 and r.failures("redirect") == 0
    assert nginx.count("/redirect") == n_red and nginx.count("/fast") == n_red
    assert len(px.requests("GET", f"http://127.0.0.1:{nginx.port}/fast ")) == n_red


@pytest.mark.time_limit(60)
def test_client_proxies_table_and_trust_env(tmp_path, nginx, tinyproxy, run_cicada):
    px = tinyproxy()
    dead = f"http://127.0.0.1:{free_port()}"
    body = f"""\
P = cicada.user {{ wait_time = cicada.constant(0.05) }}
function P:on_start()
  self.client.proxies = {{ http = "{px.url}" }}
  self.client.trust_env = false   -- the dead HTTP_PROXY is ignored
end
P:task(1, function(self) self.client:get("/a", {{ name = "client" }}) end)
P:task(1, function(self) self.client:get("/b", {{ name = "direct", proxy = false }}) end)
"""
    r = run(run_cicada, tmp_path, body, nginx.url, env=clean_env(HTTP_PROXY=dead))
    px.stop()
    assert r.returncode == 0, r.output
    n, d = r.count("client"), r.count("direct")
    assert n > 5 and d > 5 and r.failures("client") == 0, r.output
    assert nginx.count("/a") == n and nginx.count("/b") == d
    assert len(px.requests("GET", f"http://127.0.0.1:{nginx.port}/a ")) == n
    assert px.requests("GET", f"http://127.0.0.1:{nginx.port}/b") == []


@pytest.mark.time_limit(60)
def test_https_through_connect(tmp_path, conf_nginx, tinyproxy, run_cicada):  # noqa: F811
    cert, key = make_cert(tmp_path / "tls")
    n = tls_nginx(conf_nginx, cert, key)
    px = tinyproxy(connect_ports=[n.port])
    body = """\
P = cicada.user { wait_time = cicada.constant(0.02) }
P:task(1, function(self) self.client:get("/", { name = "tls" }) end)
"""
    r = run(run_cicada, tmp_path, body, n.url, "--ca-file", cert,
            env=clean_env(HTTPS_PROXY=px.url))
    px.stop()
    assert r.returncode == 0, r.output
    count = r.count("tls")
    assert count > 10 and r.failures("tls") == 0, r.output
    assert len(n.entries()) == count
    # one tunnel per user, kept alive for all its requests
    connects = px.requests("CONNECT", f"127.0.0.1:{n.port} ")
    assert 1 <= len(connects) <= 2, connects


@pytest.mark.time_limit(60)
def test_proxy_basic_auth_and_407(tmp_path, conf_nginx, nginx, tinyproxy,  # noqa: F811
                                  run_cicada):
    cert, key = make_cert(tmp_path / "tls")
    tn = tls_nginx(conf_nginx, cert, key)
    px = tinyproxy(connect_ports=[tn.port], auth=("alice", "s3cret"))
    good = f"http://alice:s3cret@127.0.0.1:{px.port}"
    body = f"""\
P = cicada.user {{ wait_time = cicada.constant(0.1) }}
P:task(1, function(self)
  self.client:get("{nginx.url}/a", {{ name = "http auth", proxy = "{good}" }})
  self.client:get("{tn.url}/", {{ name = "https auth", proxy = "{good}" }})
  self.client:get("{nginx.url}/b", {{ name = "http no auth", proxy = "{px.url}" }})
  self.client:get("{tn.url}/", {{ name = "https no auth", proxy = "{px.url}" }})
end)
"""
    r = run(run_cicada, tmp_path, body, nginx.url, "--ca-file", cert, users=1, env=clean_env())
    px.stop()
    assert r.returncode == 1, r.output  # the failures
    ok_http, ok_https = r.count("http auth"), r.count("https auth")
    assert ok_http > 3 and ok_https > 3, r.output
    assert r.failures("http auth") == r.failures("https auth") == 0, r.output
    assert r.failures("http no auth") == r.count("http no auth") > 3
    assert r.failures("https no auth") == r.count("https no auth") > 3
    errs = errors(r)
    assert ("https no auth", "ProxyError('Unable to connect to proxy', OSError('Tunnel "
            "connection failed: 407 Proxy Authentication Required'))") in errs, errs
    http_err = [e for name, e in errs if name == "http no auth"]
    assert len(http_err) == 1 and http_err[0].startswith("HTTPError('407 Client Error"), errs
    # only the authenticated requests reached the origins
    assert nginx.count("/a") == ok_http and nginx.count("/b") == 0
    assert len(tn.entries()) == ok_https


@pytest.mark.time_limit(60)
def test_proxy_down(tmp_path, nginx, run_cicada):
    dead = f"http://127.0.0.1:{free_port()}"
    body = f"""\
P = cicada.user {{ wait_time = cicada.constant(0.05) }}
P:task(1, function(self) self.client:get("/a", {{ name = "via dead proxy", proxy = "{dead}" }}) end)
P:task(1, function(self) self.client:get("/b", {{ name = "direct" }}) end)
"""
    start = time.monotonic()
    r = run(run_cicada, tmp_path, body, nginx.url, env=clean_env())
    assert time.monotonic() - start < 30
    assert r.returncode == 1, r.output
    assert r.failures("via dead proxy") == r.count("via dead proxy") > 5
    assert r.count("direct") > 5 and r.failures("direct") == 0
    assert nginx.count("/a") == 0 and nginx.count("/b") == r.count("direct")
    assert errors(r) == {("via dead proxy", "ProxyError('Unable to connect to proxy', "
                          "ConnectionRefusedError(111, 'Connection refused'))")}


@pytest.mark.time_limit(60)
def test_bad_proxy_settings(tmp_path, nginx, run_cicada):
    body = """\
P = cicada.user { wait_time = cicada.constant(0.2) }
P:task(1, function(self) self.client:get("/a", { name = "socks", proxy = "socks5://127.0.0.1:1" }) end)
P:task(1, function(self) self.client:get("/b", { name = "no host", proxies = { http = "http://:3128" } }) end)
P:task(1, function(self) self.client:get("/c", { name = "number", proxies = { http = 3128 } }) end)
"""
    r = run(run_cicada, tmp_path, body, nginx.url, users=1, env=clean_env())
    assert r.returncode == 1, r.output
    errs = dict(errors(r))
    assert errs["socks"].startswith("InvalidProxyURL(") and "SOCKS" in errs["socks"], errs
    assert "missing the host" in errs["no host"], errs
    # a value of the wrong type is the scenario's error, naming the key
    msgs = " ".join(row["Message"] for row in r.csv["exceptions"])
    assert "proxies.http: a proxy URL or false expected, got 3128" in msgs, r.csv["exceptions"]
    assert nginx.count() == 0
