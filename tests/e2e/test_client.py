"""The HTTP client's request shapes, against real servers.

- Basic auth (per request and on the client) reaches the server as
  requests sends it; per-request headers override the client's default
  `headers`, a header set to false drops a default.
- Multipart bodies (files with filename, content and content type, plus
  data fields) have requests' shape; form bodies and query params are
  percent-encoded (lists repeat their key, special characters escaped,
  long values whole).
- A base URL with a path prefix is joined with relative paths.

Also the helpers the other HTTP client tests share: `ConfNginx`, an nginx
with a test's own server block and a richer access log, and `CaptureServer`,
a tiny HTTP server that keeps every raw request it receives.
"""

import socket
import threading

import pytest

from conftest import NGINX_CONF_TOP, NGINX_TEMP_PATHS, Nginx, write_scenario

# ---------------------------------------------------------------- helpers

CONF = NGINX_CONF_TOP + """\
events {{ worker_connections 1024; }}
http {{
    default_type text/plain;
    log_format t '$request_method|$request_uri|$status|$body_bytes_sent|$http_cookie|'
                 '$content_length|$ssl_session_reused|$http_authorization|'
                 '$http_accept_encoding|$http_host|$ssl_protocol';
    access_log {d}/access.log t;
""" + NGINX_TEMP_PATHS + """\
    keepalive_requests {keepalive_requests};
    {http_extra}
    server {{
        listen 127.0.0.1:{port}{listen_extra};
        root {d}/www;
        {server}
    }}
}}
"""

LOG_FIELDS = ("method", "uri", "status", "bytes", "cookie", "content_length", "reused",
              "authorization", "accept_encoding", "host", "protocol")


class ConfNginx(Nginx):
    """nginx on 127.0.0.1 with the test's server block (`{port}` and `{d}`
    are filled in), logging every request as a dict of LOG_FIELDS."""

    def __init__(self, d, server, http_extra="", listen_extra="", keepalive_requests=1000):
        super().__init__(d)
        self.server, self.http_extra, self.listen_extra = server, http_extra, listen_extra
        self.keepalive_requests = keepalive_requests
        self.url = f"{'https' if 'ssl' in listen_extra else 'http'}://127.0.0.1:{self.port}"

    def config(self, user):
        d = self.dir
        fill = dict(d=d, port=self.port)
        return CONF.format(
            d=d, port=self.port, user=user, keepalive_requests=self.keepalive_requests,
            http_extra=self.http_extra.format(**fill), listen_extra=self.listen_extra,
            server=self.server.format(**fill))

    def entries(self, settle=0.3):
        """The access log as dicts (waits until it stops growing)."""
        self.log_lines(settle=settle)  # the base class's wait
        out = []
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                f = line.split("|")
                if len(f) == len(LOG_FIELDS):
                    out.append(dict(zip(LOG_FIELDS, f)))
        return out


@pytest.fixture
def conf_nginx(tmp_path):
    """conf_nginx(server, http_extra="", listen_extra="", keepalive_requests=1000) -> started
    ConfNginx; all are stopped at teardown."""
    started = []

    def make(server, **kw):
        d = tmp_path / f"nginx{len(started)}"
        d.mkdir()
        n = ConfNginx(d, server, **kw).start()
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


class CaptureServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with
    200 "ok" (keep-alive) and keeps the raw requests (head, body)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                with self.lock:
                    self.requests.append((head.decode("latin-1"), body))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def headers(self, i):
        """Request i as (request line, {lowercase name: value}, body)."""
        head, body = self.requests[i]
        lines = head.split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return lines[0], hdrs, body

    def close(self):
        self.stopping = True
        self.sock.close()


@pytest.fixture
def capture():
    s = CaptureServer()
    yield s
    s.close()


def run_once(run_cicada, tmp_path, body, host, *flags, timeout=30, run_time="2s"):
    """Run `body` (Lua, with `self`) once in on_start of one user, then stop
    after run_time. Returns the Run."""
    scenario = write_scenario(tmp_path, f"""\
Once = cicada.user {{ wait_time = cicada.constant(100) }}
function Once:on_start()
{body}
end
Once:task(1, function(self) cicada.sleep(100) end)
""", "once.lua")
    return run_cicada(["-f", scenario, "--headless", "-u", 1, "-r", 1, "-t", run_time, "-H", host,
                       "--only-summary", *flags], timeout=timeout)


# ---------------------------------------------------------------- tests


@pytest.mark.time_limit(60)
def test_auth_headers_multipart_params(tmp_path, capture, run_cicada):
    run = run_once(run_cicada, tmp_path, """
  local c = self.client
  c:get("/auth", { auth = { "alice", "s3cret:x" }, name = "auth" })
  c.auth = { "bob", "pw" }
  c.headers = { ["X-Default"] = "d", ["X-Over"] = "client", ["User-Agent"] = "mine/1" }
  c:get("/client-auth", { headers = { ["X-Over"] = "request", ["X-Default"] = false } })
  c.auth = nil
  c.headers = nil
  c:post("/multi", {
    data = { field = "value one", tags = { "a", "b" } },
    files = {
      upload = { filename = "a.txt", content = "hello\\r\\nworld", content_type = "text/plain" },
      raw = "bytes here",
    },
  })
  c:get("/params?x=1", { params = { q = "a b&c=d/é", list = { "1", "2" }, long = string.rep("z", 3000) } })
  c:post("/form", { data = { ["k y"] = "v+w", n = 5 } })
  c:get("/raw", { params = "a=1&b=%20" })
""", capture.url)
    assert run.returncode == 0, run.output
    reqs = [capture.headers(i) for i in range(len(capture.requests))]
    assert len(reqs) == 6, reqs

    line, h, _ = reqs[0]
    assert line == "GET /auth HTTP/1.1"
    assert h["authorization"] == "Basic YWxpY2U6czNjcmV0Ong="  # alice:s3cret:x

    line, h, _ = reqs[1]
    assert h["authorization"] == "Basic Ym9iOnB3"  # bob:pw
    assert h["x-over"] == "request" and "x-default" not in h and h["user-agent"] == "mine/1"

    line, h, body = reqs[2]
    assert line == "POST /multi HTTP/1.1"
    ctype = h["content-type"]
    assert ctype.startswith("multipart/form-data; boundary="), ctype
    boundary = ctype.split("boundary=", 1)[1].encode()
    assert len(boundary) >= 16
    assert int(h["content-length"]) == len(body)
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts = body.split(b"--" + boundary)[1:-1]
    assert len(parts) == 5, body  # field, tags x2, upload, raw
    by_name = {}
    for p in parts:
        head, _, content = p[2:].partition(b"\r\n\r\n")
        assert content.endswith(b"\r\n")
        by_name.setdefault(head.split(b'name="', 1)[1].split(b'"', 1)[0], []).append(
            (head, content[:-2]))
    assert by_name[b"field"][0][1] == b"value one"
    assert sorted(c for _, c in by_name[b"tags"]) == [b"a", b"b"]
    head, content = by_name[b"upload"][0]
    assert b'filename="a.txt"' in head and b"Content-Type: text/plain" in head
    assert content == b"hello\r\nworld"
    head, content = by_name[b"raw"][0]
    assert b'filename="raw"' in head and content == b"bytes here"

    line, h, _ = reqs[3]
    target = line.split(" ")[1]
    assert target.startswith("/params?x=1&"), target
    from urllib.parse import parse_qs, urlsplit
    q = parse_qs(urlsplit(target).query)
    assert q["q"] == ["a b&c=d/é"] and q["list"] == ["1", "2"] and q["long"] == ["z" * 3000]
    assert q["x"] == ["1"]
    assert "%26" in target and "%2F" in target and "+" in target  # & / and space escaped

    line, h, body = reqs[4]
    assert h["content-type"] == "application/x-www-form-urlencoded"
    assert sorted(body.split(b"&")) == [b"k+y=v%2Bw", b"n=5"]
    assert int(h["content-length"]) == len(body)

    assert reqs[5][0] == "GET /raw?a=1&b=%20 HTTP/1.1"


@pytest.mark.time_limit(60)
def test_base_url_with_path_prefix(tmp_path, capture, run_cicada):
    run = run_once(run_cicada, tmp_path, """
  self.client.base_url = "%s/api/v1/"
  self.client:get("/items?id=3")
  local r = self.client:get("/other")
  local f = io.open("%s", "w"); f:write(r.url); f:close()
""" % (capture.url, tmp_path / "url.txt"), capture.url)
    assert run.returncode == 0, run.output
    lines = [capture.headers(i)[0] for i in range(len(capture.requests))]
    assert lines == ["GET /api/v1/items?id=3 HTTP/1.1", "GET /api/v1/other HTTP/1.1"]
    assert (tmp_path / "url.txt").read_text() == capture.url + "/api/v1/other"
    assert run.count("/api/v1/items?id=3") == 1
