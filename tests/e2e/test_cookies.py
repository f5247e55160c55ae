"""Cookies round-trip through a real nginx (Set-Cookie, then the Cookie
header nginx logs as $http_cookie).

- A cookie is kept per user and sent back on matching paths only, longer
  paths first; an Expires in the past deletes it; a cookie set by a
  redirect response is sent on the redirected request; a Secure cookie
  from plain HTTP is refused; a cookie of 127.0.0.1 is not sent to
  localhost (host-only).
- A Cookie header the scenario sets wins over the jar;
  `self.client:cookies()` lists the jar, `clear_cookies()` empties it.
- Two users each get their own jar.
"""

import pytest

from conftest import write_scenario
from test_client import conf_nginx, run_once  # noqa: F401

SERVER = """
        location = /login   {{ add_header Set-Cookie "sid=abc123; Path=/";
                               add_header Set-Cookie "pref=dark; Path=/account; Max-Age=3600";
                               return 200 "in\\n"; }}
        location = /logout  {{ add_header Set-Cookie "sid=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
                               return 200 "out\\n"; }}
        location = /secure  {{ add_header Set-Cookie "s=1; Secure"; return 200 "s\\n"; }}
        location = /redir   {{ add_header Set-Cookie "via=redirect; Path=/"; return 302 /page?after; }}
        location = /user    {{ add_header Set-Cookie "uid=$arg_id; Path=/"; return 200 "u\\n"; }}
        location /          {{ return 200 "page\\n"; }}
"""


@pytest.mark.time_limit(60)
def test_cookie_round_trip(tmp_path, conf_nginx, run_cicada):
    n = conf_nginx(SERVER)
    out = tmp_path / "jar.txt"
    run = run_once(run_cicada, tmp_path, f"""
  local c = self.client
  local function dump(tag)
    local names = {{}}
    for k, v in pairs(c:cookies()) do names[#names + 1] = k .. "=" .. v end
    table.sort(names)
    local f = io.open("{out}", "a"); f:write(tag, ":", table.concat(names, ","), "\\n"); f:close()
  end
  c:get("/page?1")
  c:get("/login")
  dump("after login")
  c:get("/page?2")
  c:get("/account/settings?3")
  c:get("/accounting?4")
  c:get("/secure")
  c:get("/logout")
  dump("after logout")
  c:get("/page?5")
  c:get("/redir")
  c:get("/page?6", {{ headers = {{ Cookie = "mine=1" }} }})
  c:get("http://localhost:{n.port}/page?7")
  c:clear_cookies()
  dump("after clear")
  c:get("/page?8")
""", n.url)
    assert run.returncode == 0, run.output
    sent = [(e["uri"], e["cookie"]) for e in n.entries()]
    assert sent == [
        ("/page?1", "-"),
        ("/login", "-"),
        ("/page?2", "sid=abc123"),
        ("/account/settings?3", "pref=dark; sid=abc123"),
        ("/accounting?4", "sid=abc123"),
        ("/secure", "sid=abc123"),
        ("/logout", "sid=abc123"),
        ("/page?5", "-"),
        ("/redir", "-"),
        ("/page?after", "via=redirect"),
        ("/page?6", "mine=1"),
        ("/page?7", "-"),
        ("/page?8", "-"),
    ], sent
    assert out.read_text().splitlines() == [
        "after login:pref=dark,sid=abc123",
        "after logout:pref=dark",
        "after clear:",
    ]


@pytest.mark.time_limit(60)
def test_cookies_per_user(tmp_path, conf_nginx, run_cicada):
    n = conf_nginx(SERVER)
    scenario = write_scenario(tmp_path, """\
Shopper = cicada.user { wait_time = cicada.constant(0.05) }
function Shopper:on_start()
  self.client:get("/user?id=" .. self.id, { name = "login" })
end
Shopper:task(1, function(self)
  self.client:get("/page?me=" .. self.id, { name = "page" })
end)
""", "users.lua")
    run = run_cicada(["-f", scenario, "--headless", "-u", 3, "-r", 10, "-t", "2s", "-H", n.url,
                      "--only-summary"], timeout=30)
    assert run.returncode == 0, run.output
    pages = [e for e in n.entries() if e["uri"].startswith("/page")]
    assert len(pages) >= 10
    for e in pages:
        assert e["cookie"] == "uid=" + e["uri"].split("me=")[1], e
    assert len({e["cookie"] for e in pages}) == 3
