"""HTTPS against a real nginx with a certificate the test makes with openssl.

- Verification is on by default: an untrusted self-signed certificate is a
  failure whose error says "certificate verify failed", and nginx serves
  nothing; `--ca-file cert.pem` and `--insecure` pass; per-request
  `verify = false` and `verify = "/path/ca.pem"` do the same for one call.
- The host is checked: a certificate for another name fails with an IP
  address mismatch even when its CA is trusted.
- Sessions resume between reconnects of a user's connection (nginx logs
  $ssl_session_reused = "r"), over TLS 1.3 and TLS 1.2, when nginx closes
  after every request (keepalive_requests 1).
- Keep-alive over TLS: many requests on one connection, bodies from a few
  bytes to 1 MiB (several TLS records) arrive whole; a 3 MiB upload goes
  out whole through partial TLS writes.
"""

import subprocess

import pytest

from conftest import write_scenario
from test_client import run_once  # noqa: F401  (fixtures below)
from test_client import conf_nginx  # noqa: F401

SERVER = """
        client_max_body_size 10m;
        location = /     {{ return 200 "hello tls\\n"; }}
        location = /big  {{ }}
"""


def make_cert(d, cn="127.0.0.1", san="IP:127.0.0.1,DNS:localhost"):
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", f"/CN={cn}", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True, timeout=30)
    return cert, key


def tls_nginx(conf_nginx, cert, key, protocols="TLSv1.2 TLSv1.3", **kw):
    extra = (f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols {protocols}; "
             "ssl_session_cache shared:SSL:1m;")
    n = conf_nginx(SERVER, http_extra=extra, listen_extra=" ssl", **kw)
    (n.dir / "www" / "big").write_bytes(bytes(range(256)) * 4096)
    return n


LOOP = """\
Tls = cicada.user { wait_time = cicada.constant(0.01) }
Tls:task(1, function(self) self.client:get("/", { name = "root" %s }) end)
"""


def run_loop(run_cicada, tmp_path, url, *flags, opts=""):
    scenario = write_scenario(tmp_path, LOOP % opts, "tls.lua")
    return run_cicada(["-f", scenario, "--headless", "-u", 2, "-r", 10, "-t", "2s", "-H", url,
                       "--only-summary", *flags], timeout=30)


@pytest.mark.time_limit(90)
def test_verification(tmp_path, conf_nginx, run_cicada):
    cert, key = make_cert(tmp_path / "pki")
    n = tls_nginx(conf_nginx, cert, key)

    run = run_loop(run_cicada, tmp_path, n.url)
    assert run.returncode == 1, run.output
    assert run.count("root") > 0 and run.failures("root") == run.count("root")
    errors = {r["Error"] for r in run.csv["failures"]}
    assert len(errors) == 1, errors
    err = errors.pop()
    assert err.startswith("SSLError(") and "certificate verify failed" in err, err
    assert "self-signed certificate" in err, err
    assert n.entries() == [], "nothing may be served over an unverified connection"

    for flags, opts in ((["--ca-file", cert], ""), (["--insecure"], ""),
                        ([], ", verify = false"), ([], f', verify = "{cert}"')):
        before = len(n.entries(settle=0.1))
        run = run_loop(run_cicada, tmp_path, n.url, *flags, opts=opts)
        assert run.returncode == 0, f"{flags} {opts}\n{run.output}"
        served = len(n.entries()) - before
        assert run.count("root") == served > 0, (flags, opts)

    # a missing CA bundle is a failure that names it
    run = run_loop(run_cicada, tmp_path, n.url, "--ca-file", tmp_path / "nope.pem")
    assert run.failures("root") == run.count("root") > 0
    assert "nope.pem" in run.csv["failures"][0]["Error"], run.csv["failures"]


@pytest.mark.time_limit(60)
def test_host_mismatch(tmp_path, conf_nginx, run_cicada):
    cert, key = make_cert(tmp_path / "pki", cn="other.example", san="DNS:other.example")
    n = tls_nginx(conf_nginx, cert, key)
    run = run_loop(run_cicada, tmp_path, n.url, "--ca-file", cert)
    assert run.failures("root") == run.count("root") > 0, run.output
    err = run.csv["failures"][0]["Error"]
    assert "certificate verify failed" in err and "mismatch" in err, err
    run = run_loop(run_cicada, tmp_path, n.url, "--insecure")
    assert run.returncode == 0 and run.count("root") > 0, run.output


@pytest.mark.time_limit(90)
@pytest.mark.parametrize("protocol", ["TLSv1.3", "TLSv1.2"])
def test_session_resumption(tmp_path, conf_nginx, run_cicada, protocol):
    cert, key = make_cert(tmp_path / "pki")
    n = tls_nginx(conf_nginx, cert, key, protocols=protocol, keepalive_requests=1)
    run = run_loop(run_cicada, tmp_path, n.url, "--ca-file", cert)
    assert run.returncode == 0, run.output
    log = n.entries()
    assert len(log) == run.count("root") >= 20, run.output
    assert {e["protocol"] for e in log} == {protocol}
    reused = sum(e["reused"] == "r" for e in log)
    # each of the 2 users does one full handshake; every reconnect resumes
    assert reused >= len(log) - 2, [e["reused"] for e in log]


@pytest.mark.time_limit(60)
def test_resumption_after_idle_close(tmp_path, conf_nginx, run_cicada):
    """nginx closes idle keep-alive connections after 1 s: the reconnects
    resume the session."""
    cert, key = make_cert(tmp_path / "pki")
    extra = (f"ssl_certificate {cert}; ssl_certificate_key {key}; keepalive_timeout 1s;")
    n = conf_nginx(SERVER, http_extra=extra, listen_extra=" ssl")
    run = run_once(run_cicada, tmp_path, """
  for i = 1, 3 do
    self.client:get("/", { verify = false })
    cicada.sleep(1.4)
  end
""", n.url, timeout=30, run_time="6s")
    assert run.returncode == 0, run.output
    assert [e["reused"] for e in n.entries()] == [".", "r", "r"]


@pytest.mark.time_limit(60)
def test_keepalive_and_big_bodies(tmp_path, conf_nginx, run_cicada):
    cert, key = make_cert(tmp_path / "pki")
    n = tls_nginx(conf_nginx, cert, key)
    out = tmp_path / "sizes.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local f = io.open("{out}", "w")
  for i = 1, 20 do
    local r = self.client:get(i % 2 == 0 and "/big" or "/", {{ verify = false }})
    f:write(r.status_code, " ", #r.text, " ", r.url, "\\n")
  end
  f:close()
  local up = self.client:post("/", {{ data = string.rep("x", 3 * 1024 * 1024), verify = false }})
  assert(up.status_code == 200, up.status_code)
""", n.url)
    assert run.returncode == 0, run.output
    lines = out.read_text().splitlines()
    assert len(lines) == 20
    for i, line in enumerate(lines, 1):
        status, size, url = line.split(" ")
        assert status == "200"
        assert int(size) == (1 << 20 if i % 2 == 0 else len("hello tls\n"))
        assert url == n.url + ("/big" if i % 2 == 0 else "/")
    log = n.entries()
    assert len(log) == 21 and sum(e["reused"] == "r" for e in log) == 0
    assert log[-1]["method"] == "POST" and log[-1]["content_length"] == str(3 << 20)
    assert run.count("/big") == 10 and run.failures("/big") == 0
    assert float(run.stats_row("/big")["Average Content Size"]) == 1 << 20
