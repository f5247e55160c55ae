"""Redirects are followed as requests follows them, against a real nginx
(its log shows "$request_method $request_uri $content_length").

- 301 turns POST into GET, keeps PUT but drops its body; 302 and 303 turn
  anything but HEAD into GET without a body; 307 and 308 keep the method
  and the body.
- Relative ("sub/../x"), absolute-path and absolute Locations resolve
  against the request's URL; a redirect to another host opens a
  connection there.
- `allow_redirects = false` returns the 3xx itself, as a success;
  client:head() does not follow by default, client:request("HEAD", ...)
  does.
- 10 redirects are followed; the 11th is a TooManyRedirects failure.
- One statistics entry per call, named after the original path; r.url is
  the final URL and r.history lists the redirect responses (objects, as
  Locust's: status_code, headers, url, cookies), oldest first.
"""

import pytest

from test_client import conf_nginx, run_once  # noqa: F401

HOPS = "\n".join(f'        location = /hop{i} {{{{ return 302 /hop{i + 1}; }}}}' for i in range(1, 12))

SERVER = """
        absolute_redirect off;
        location = /r301 {{ return 301 /echo; }}
        location = /r302 {{ return 302 /echo; }}
        location = /r303 {{ return 303 /echo; }}
        location = /r307 {{ return 307 /echo; }}
        location = /r308 {{ return 308 /echo; }}
        location = /abs  {{ return 302 http://localhost:{port}/echo?abs; }}
        location = /dir/rel {{ return 302 sub/../echo2?rel; }}
        location = /dir/echo2 {{ return 200 "echo2\\n"; }}
        location = /hop12 {{ return 200 "landed\\n"; }}
        location = /echo {{ return 200 "echo\\n"; }}
""" + HOPS + "\n"


@pytest.mark.time_limit(60)
def test_redirect_rules(tmp_path, conf_nginx, run_cicada):
    n = conf_nginx(SERVER)
    out = tmp_path / "out.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local c = self.client
  local f = io.open("{out}", "w")
  local function hist(r)   -- r.history holds response objects, as in Locust
    local t = {{}}
    for i, h in ipairs(r.history or {{}}) do t[i] = h.status_code end
    return table.concat(t, ",")
  end
  local function note(tag, r)
    f:write(tag, " ", r.status_code, " ", r.url, " ", hist(r), " ",
            tostring(r.error), "\\n")
  end
  for _, code in ipairs({{ 301, 302, 303, 307, 308 }}) do
    note("post" .. code, c:post("/r" .. code .. "?post", {{ data = "hello-body" }}))
    note("put" .. code, c:put("/r" .. code .. "?put", {{ data = "hello-body" }}))
  end
  note("head", c:head("/r302?head"))
  note("headreq", c:request("HEAD", "/r303?headreq"))
  note("nofollow", c:get("/r301?nofollow", {{ allow_redirects = false }}))
  note("abs", c:get("/abs"))
  note("rel", c:get("/dir/rel"))
  note("ten", c:get("/hop2", {{ name = "ten" }}))
  note("eleven", c:get("/hop1", {{ name = "eleven" }}))
  f:close()
""", n.url)
    assert run.returncode == 1, run.output  # the TooManyRedirects failure
    got = [(e["method"], e["uri"], e["content_length"]) for e in n.entries()]
    expect = []
    for code, post_to, put_to in ((301, ("GET", "-"), ("PUT", "-")),
                                  (302, ("GET", "-"), ("GET", "-")),
                                  (303, ("GET", "-"), ("GET", "-")),
                                  (307, ("POST", "10"), ("PUT", "10")),
                                  (308, ("POST", "10"), ("PUT", "10"))):
        expect += [("POST", f"/r{code}?post", "10"), (post_to[0], "/echo", post_to[1]),
                   ("PUT", f"/r{code}?put", "10"), (put_to[0], "/echo", put_to[1])]
    expect += [("HEAD", "/r302?head", "-"),
               ("HEAD", "/r303?headreq", "-"), ("HEAD", "/echo", "-"),
               ("GET", "/r301?nofollow", "-"),
               ("GET", "/abs", "-"), ("GET", "/echo?abs", "-"),
               ("GET", "/dir/rel", "-"), ("GET", "/dir/echo2?rel", "-")]
    expect += [("GET", f"/hop{i}", "-") for i in range(2, 13)]
    expect += [("GET", f"/hop{i}", "-") for i in range(1, 12)]
    assert got == expect, "\n".join(map(str, got))
    # the cross-host hop went to localhost (Host header), the others to 127.0.0.1
    hosts = {e["uri"]: e["host"] for e in n.entries()}
    assert hosts["/echo?abs"] == f"localhost:{n.port}" and hosts["/abs"] == f"127.0.0.1:{n.port}"

    res = {}
    for line in out.read_text().splitlines():
        tag, status, url, hist, err = line.split(" ", 4)
        res[tag] = (int(status), url, hist, err)
    base = n.url
    assert res["post301"] == (200, base + "/echo", "301", "nil")
    assert res["put308"] == (200, base + "/echo", "308", "nil")
    assert res["head"] == (302, base + "/r302?head", "", "nil")
    assert res["headreq"] == (200, base + "/echo", "303", "nil")
    assert res["nofollow"] == (301, base + "/r301?nofollow", "", "nil")
    assert res["abs"] == (200, f"http://localhost:{n.port}/echo?abs", "302", "nil")
    assert res["rel"] == (200, base + "/dir/echo2?rel", "302", "nil")
    assert res["ten"][:3] == (200, base + "/hop12", ",".join(["302"] * 10))
    status, url, hist, err = res["eleven"]
    assert status == 302 and err == "TooManyRedirects('Exceeded 10 redirects.')", res["eleven"]

    # one stats entry per call, under the original path (or name)
    assert run.count("/r307?post", "POST") == 1 and run.failures("/r307?post") == 0
    assert run.count("/r301?nofollow", "GET") == 1 and run.failures("/r301?nofollow") == 0
    assert run.count("ten") == 1 and run.failures("ten") == 0
    assert run.count("eleven") == 1 and run.failures("eleven") == 1
    assert run.count("/echo") == 0
    fails = run.csv["failures"]
    assert [(f["Name"], f["Error"]) for f in fails] == [
        ("eleven", "TooManyRedirects('Exceeded 10 redirects.')")]


HISTORY_SERVER = """
        absolute_redirect off;
        location = /login {{ add_header Set-Cookie "sid=abc123; Path=/; HttpOnly" always;
                             add_header X-Hop one always; return 302 /step2; }}
        location = /step2 {{ add_header Set-Cookie "step=2" always;
                             return 303 http://localhost:{port}/home; }}
        location = /home {{ return 200 "home\\n"; }}
        location = /plain {{ add_header Set-Cookie "p=1" always; return 200 "plain\\n"; }}
"""


@pytest.mark.time_limit(60)
def test_history_holds_the_redirect_responses(tmp_path, conf_nginx, run_cicada):
    """r.history is a list of response objects, oldest first, as Locust's:
    status_code, headers, url and the cookies each redirect set."""
    n = conf_nginx(HISTORY_SERVER)
    out = tmp_path / "out.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local f = io.open("{out}", "w")
  for round = 1, 2 do   -- twice: the hop buffer is reused
    local r = self.client:post("/login", {{ data = "u=a" }})
    f:write(r.status_code, " ", r.url, " ", #r.history, "\\n")
    for i, h in ipairs(r.history) do
      f:write(i, " ", h.status_code, " ", h.url, " ", tostring(h.headers["location"]), " ",
              tostring(h.headers["x-hop"]), " ", tostring(h.cookies.sid), " ",
              tostring(h.cookies.step), " ", tostring(h.ok), " ", #h.text, "\\n")
    end
    local c = self.client:cookies()
    f:write("jar ", tostring(c.sid), " ", tostring(c.step), "\\n")
  end
  local p = self.client:get("/plain")
  f:write("plain ", tostring(p.history), " ", tostring(p.cookies.p), "\\n")
  f:close()
""", n.url)
    assert run.returncode == 0, run.output
    base, local = n.url, n.url.replace("127.0.0.1", "localhost")
    round_ = [
        f"200 {local}/home 2",
        f"1 302 {base}/login /step2 one abc123 nil true 0",
        f"2 303 {base}/step2 {local}/home nil nil 2 true 0",
        "jar abc123 2",
    ]
    assert out.read_text().splitlines() == round_ + round_ + ["plain nil 1"], out.read_text()
