"""gzip and deflate bodies are decoded when the scenario asks for them.

- nginx with `gzip on` compresses only when the request says
  Accept-Encoding: gzip; r.text is then the original text (and the stats
  content size its length, as requests' len(r.content)), and nginx logs
  fewer bytes sent than the file holds.
- A server that compresses whatever was asked: zlib-wrapped and raw
  deflate decode; without Accept-Encoding in the request the body is left
  as it came; a corrupt gzip body is a ContentDecodingError failure.
"""

import gzip
import http.server
import threading
import zlib

import pytest

from test_client import conf_nginx, run_once  # noqa: F401

TEXT = ("cicada says hello; " * 400 + "\n").encode()

SERVER = """
        gzip on;
        gzip_min_length 0;
        gzip_types text/plain application/json;
        location / {{ }}
"""


@pytest.mark.time_limit(60)
def test_nginx_gzip(tmp_path, conf_nginx, run_cicada):
    n = conf_nginx(SERVER, http_extra="types {{ application/json json; text/plain txt; }}")
    (n.dir / "www" / "t.txt").write_bytes(TEXT)
    (n.dir / "www" / "d.json").write_bytes(b'{"greeting": "' + b"hi " * 500 + b'"}')
    out = tmp_path / "out.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local f = io.open("{out}", "w")
  local r = self.client:get("/t.txt", {{ headers = {{ ["Accept-Encoding"] = "gzip, deflate" }},
                                         name = "gz" }})
  f:write("gz ", #r.text, " ", tostring(r.headers["content-encoding"]), "\\n")
  local plain = self.client:get("/t.txt", {{ name = "plain" }})
  f:write("plain ", #plain.text, " ", tostring(plain.headers["content-encoding"]), "\\n")
  f:write("same ", tostring(r.text == plain.text), "\\n")
  self.client.headers = {{ ["accept-encoding"] = "gzip" }}
  local j = self.client:get("/d.json", {{ name = "json" }})
  f:write("json ", #j:json().greeting, "\\n")
  f:close()
""", n.url)
    assert run.returncode == 0, run.output
    lines = out.read_text().splitlines()
    assert lines == [f"gz {len(TEXT)} gzip", f"plain {len(TEXT)} nil", "same true", "json 1500"]
    sent = {(e["uri"], e["accept_encoding"]): int(e["bytes"]) for e in n.entries()}
    assert sent[("/t.txt", "gzip, deflate")] < len(TEXT) // 10
    assert sent[("/t.txt", "-")] == len(TEXT)
    assert float(run.stats_row("gz")["Average Content Size"]) == len(TEXT)


class Compressing(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies = {
        "/gzip": ("gzip", gzip.compress(TEXT)),
        "/zlib": ("deflate", zlib.compress(TEXT)),
        "/raw": ("deflate", zlib.compress(TEXT)[2:-4]),
        "/corrupt": ("gzip", gzip.compress(TEXT)[:20] + b"garbage" * 10),
    }

    def do_GET(self):
        enc, body = self.bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Encoding", enc)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def compressing():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Compressing)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.time_limit(60)
def test_deflate_and_corrupt(tmp_path, compressing, run_cicada):
    out = tmp_path / "out.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local f = io.open("{out}", "w")
  local ae = {{ headers = {{ ["Accept-Encoding"] = "gzip, deflate" }} }}
  for _, p in ipairs({{ "/gzip", "/zlib", "/raw", "/corrupt" }}) do
    local r = self.client:get(p, ae)
    f:write(p, " ", #r.text, " ", tostring(r.error), "\\n")
  end
  local r = self.client:get("/gzip", {{ name = "not asked" }})
  f:write("notasked ", #r.text, "\\n")
  f:close()
""", compressing)
    assert run.returncode == 1, run.output
    lines = out.read_text().splitlines()
    assert lines[:3] == [f"/gzip {len(TEXT)} nil", f"/zlib {len(TEXT)} nil",
                         f"/raw {len(TEXT)} nil"], lines
    assert lines[3].startswith("/corrupt ") and "ContentDecodingError(" in lines[3], lines
    assert lines[4] == f"notasked {len(gzip.compress(TEXT))}"
    fails = run.csv["failures"]
    assert len(fails) == 1 and fails[0]["Name"] == "/corrupt", fails
    assert "content-encoding: gzip" in fails[0]["Error"]
