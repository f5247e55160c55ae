"""cicada.json in a scenario (issue 13, item 3): what cicada.json.encode
produces reaches a real HTTP server byte for byte as documented (sorted
keys, [] vs {}, integers without a fraction, null), Python's json module
reads it back as the same value, and a response decoded with
cicada.json.decode encodes back to the same text."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, write_scenario

EXPECTED_TEXT = ('{"cart":[],"id":42,"meta":{},"price":19.99,"ratio":0.1,'
                 '"tags":["a","b"],"user":null}')
EXPECTED = json.loads(EXPECTED_TEXT)
DOC = '{"z": [1, 2.5, {}], "a": [], "n": null, "s": "caf\\u00e9"}'


class Checker(BaseHTTPRequestHandler):
    """POST /check: 200 if the body is EXPECTED_TEXT exactly, 400 otherwise
    (the body goes to `bad`). GET /doc: a JSON document. POST /back: 200
    if the body is DOC re-encoded by cicada's rules."""
    bad = []
    posts = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"ok"):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, DOC.encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with Checker.lock:
            Checker.posts += 1
        if self.path == "/check":
            ok = body == EXPECTED_TEXT and json.loads(body) == EXPECTED
        else:
            # null inside an object decodes to nil: "n" is gone
            ok = body == '{"a":[],"s":"caf\u00e9","z":[1,2.5,{}]}' and \
                json.loads(body) == {k: v for k, v in json.loads(DOC).items() if v is not None}
        if not ok:
            with Checker.lock:
                Checker.bad.append((self.path, body))
        self.reply(200 if ok else 400)


SCENARIO = """
U = cicada.user { wait_time = cicada.constant(0.05) }
U:task(function(self)
  local v = {
    id = 42, price = 19.99, ratio = 0.1, tags = { "a", "b" },
    cart = cicada.json.array {}, meta = {}, user = cicada.json.null,
  }
  self.client:post("/check", { data = cicada.json.encode(v), name = "encode",
                               headers = { ["Content-Type"] = "application/json" } })
  -- the json= option goes through the same encoder
  self.client:post("/check", { json = v, name = "json=" })
  local doc = cicada.json.decode(self.client:get("/doc").text)
  self.client:post("/back", { data = cicada.json.encode(doc), name = "back" })
end)
"""


@pytest.mark.time_limit(60)
def test_encode_reaches_the_server_as_documented(run_cicada, tmp_path):
    Checker.bad, Checker.posts = [], 0
    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), Checker)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        f = write_scenario(tmp_path, SCENARIO)
        run = run_cicada(["-f", f, "-H", f"http://127.0.0.1:{port}", "--headless", "-u", "2",
                          "-r", "10", "-t", "2s", "--only-summary"])
    finally:
        srv.shutdown()
        srv.server_close()
    assert Checker.bad == [], Checker.bad[:3]
    assert run.returncode == 0, run.output
    for name in ("encode", "json=", "back"):
        assert run.count(name, "POST") > 3, run.output
    assert run.count("encode", "POST") + run.count("json=", "POST") + \
        run.count("back", "POST") == Checker.posts
    assert not run.csv["failures"] and not run.csv["exceptions"], run.output


BAD = """
U = cicada.user { wait_time = cicada.constant(1) }
U:task(function(self)
  local ok, err = pcall(cicada.json.encode, { a = { 1, 0/0 } })
  cicada.report { name = tostring(err), response_time = 0 }
  cicada.json.decode('{"a": 1} tail')
end)
"""


@pytest.mark.time_limit(60)
def test_bad_values_are_refused_clearly(run_cicada, tmp_path):
    f = write_scenario(tmp_path, BAD)
    run = run_cicada(["-f", f, "-H", "http://127.0.0.1:9", "--headless", "-u", "1", "-r", "1",
                      "-t", "1s", "--only-summary"])
    names = {r["Name"] for r in run.csv["stats"]}
    assert "cicada.json.encode: cannot encode NaN (JSON has no NaN) at $.a[2]" in names, names
    msgs = " ".join(r["Message"] for r in run.csv["exceptions"])
    assert "cicada.json.decode: invalid JSON at byte 9 (extra data after the value)" in msgs, msgs
