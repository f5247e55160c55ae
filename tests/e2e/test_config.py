"""Config files and the flags of later Locust versions (issue 13, items 1-2).

Real runs of ./cicada against the nginx fixture: the precedence of
~/.locust.conf < ./locust.conf < ./pyproject.toml < --config < LOCUST_* <
command line, one test per rule, read from what cicada logs ("All users
spawned: ... (N total users)"); the same locust.conf given to Locust 2.12.1's
own parser gives the same values; unknown keys name FILE:LINE; -i counted
against nginx's access log; --processes; --web-base-path's routes;
--web-login's refusal. HOME points at the test's tmp dir so that a real
~/.locust.conf cannot leak in.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import CICADA, free_port, stop_process, wait_port

SCENARIO = """
Web = cicada.user { wait_time = cicada.constant(0.05) }
Web:task(1, function(self) self.client:get("/a") end)
"""


def users_spawned(text):
    found = re.findall(r"All users spawned: \{[^}]*\} \((\d+) total users\)", text)
    assert found, text
    return int(found[-1])


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def env_with(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def short_run(run_cicada, tmp_path, home, nginx, args=(), **env):
    (tmp_path / "s.lua").write_text(SCENARIO)
    run = run_cicada(["-f", "s.lua", "-H", nginx.url, "-t", "1", "-r", "100", *args],
                     timeout=20, csv=False, env=env_with(home, **env))
    assert run.returncode == 0, run.output
    return run


# One test per rule: each source beats the one before it.
@pytest.mark.parametrize("layers,expect", [
    (["home"], 1),
    (["home", "conf"], 2),
    (["home", "conf", "toml"], 3),
    (["home", "conf", "toml", "config"], 4),
    (["home", "conf", "toml", "config", "env"], 5),
    (["home", "conf", "toml", "config", "env", "cli"], 6),
])
def test_precedence(run_cicada, tmp_path, home, nginx, layers, expect):
    (home / ".locust.conf").write_text("users = 1\nheadless = true\n")
    if "conf" in layers:
        (tmp_path / "locust.conf").write_text("users = 2\n")
    if "toml" in layers:
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "shop"\n\n[tool.locust]\nusers = 3\n')
    args, env = [], {}
    if "config" in layers:
        (tmp_path / "ci.conf").write_text("users = 4\n")
        args += ["--config", "ci.conf"]
    if "env" in layers:
        env["LOCUST_USERS"] = "5"
    if "cli" in layers:
        args += ["-u", "6"]
    run = short_run(run_cicada, tmp_path, home, nginx, args, **env)
    assert users_spawned(run.output) == expect, run.output
    assert nginx.count("/a") > 0


def test_locust_reads_the_same_conf(tmp_path, home, nginx):
    """The reference: Locust 2.12.1's own parser, on the same files,
    variable and command line, gets the values that cicada runs with."""
    (home / ".locust.conf").write_text("users = 1\nrun-time = 1m\nspawn-rate = 3\n")
    (tmp_path / "locust.conf").write_text(
        f"# comment\nusers = 2\ntags = [a, b]\nheadless\nhost = {nginx.url}\n")
    (tmp_path / "ci.conf").write_text("users = 4\nexclude-tags = [x]\nrun-time = 2m\n")
    env = env_with(home, LOCUST_SPAWN_RATE="7")
    argv = ["--config", "ci.conf", "-t", "2s"]
    probe = ("import json, sys\nfrom locust.argument_parser import parse_options\n"
             "o = parse_options(sys.argv[1:])\n"
             "print(json.dumps([o.num_users, o.spawn_rate, o.run_time, o.tags, o.exclude_tags,"
             " o.headless, o.host]))\n")
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [4, 7.0, "2s", ["a", "b"], ["x"], True, nginx.url]
    # cicada with the same sources: 4 users at 7/s for 2 s, headless, on
    # nginx, only the task tagged a (b has none, x is excluded)
    (tmp_path / "s.lua").write_text("""
Web = cicada.user { wait_time = cicada.constant(0.05) }
Web:task{ function(self) self.client:get("/a") end, tags = {"a"} }
Web:task{ function(self) self.client:get("/x") end, tags = {"a", "x"} }
Web:task(function(self) self.client:get("/u") end)
""")
    run = subprocess.run([str(CICADA), "-f", "s.lua", *argv], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=20)
    assert run.returncode == 0, run.stderr
    assert "Ramping to 4 users at a rate of 7.00 per second" in run.stderr, run.stderr
    assert "Run time limit set to 2 seconds" in run.stderr
    assert users_spawned(run.stderr) == 4
    assert nginx.count("/a") > 0 and nginx.count("/x") == 0 and nginx.count("/u") == 0
    # an unknown key in the same files: Locust refuses it, cicada too, naming file:line
    with open(tmp_path / "locust.conf", "a") as f:
        f.write("spawnrate = 5\n")
    lo = subprocess.run([sys.executable, "-c", probe, *argv], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=30)
    assert lo.returncode == 2 and "--spawnrate=5" in lo.stderr
    ci = subprocess.run([str(CICADA), "-f", "s.lua", *argv], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=20)
    assert ci.returncode == 2
    assert "locust.conf:6: unknown key 'spawnrate'" in ci.stderr, ci.stderr


def test_file_values_reach_the_run(run_cicada, tmp_path, home, nginx):
    """A whole run from locust.conf alone: host, users, run time, headless,
    csv and a cicada-only key (threads)."""
    (tmp_path / "s.lua").write_text(SCENARIO)
    (tmp_path / "out").mkdir()
    (tmp_path / "locust.conf").write_text(
        f"locustfile = s.lua\nhost = {nginx.url}\nusers = 3\nspawn-rate = 30\n"
        "run-time = 2s\nheadless = true\ncsv = out/conf\nthreads = 1\n")
    start = time.monotonic()
    run = run_cicada([], timeout=20, csv=False, env=env_with(home))
    assert run.returncode == 0, run.output
    assert time.monotonic() - start < 10
    assert users_spawned(run.output) == 3
    assert "Run time limit set to 2 seconds" in run.output
    stats = (tmp_path / "out" / "conf_stats.csv").read_text()
    agg = [line for line in stats.splitlines() if ",Aggregated," in line]
    assert agg and int(agg[0].split(",")[2]) == nginx.count("/a") > 0


def test_env_beats_file_and_cli_beats_env(run_cicada, tmp_path, home, nginx):
    (tmp_path / "locust.conf").write_text("run-time = 30s\nheadless = true\nusers = 2\n")
    run = short_run(run_cicada, tmp_path, home, nginx, (), LOCUST_RUN_TIME="1")
    assert "Run time limit set to 1 seconds" in run.output, run.output
    # -t 1 (short_run) against LOCUST_RUN_TIME=20: the command line wins
    run = short_run(run_cicada, tmp_path, home, nginx, (), LOCUST_RUN_TIME="20")
    assert "Run time limit set to 1 seconds" in run.output, run.output


@pytest.mark.parametrize("name,text,where,what", [
    ("locust.conf", "users = 1\nbogus = 2\n", "locust.conf:2", "unknown key 'bogus'"),
    ("pyproject.toml", "[tool.black]\nx = 1\n[tool.locust]\n\nspawn_rate = 1\n",
     "pyproject.toml:5", "unknown key 'spawn_rate'"),
    ("locust.conf", "users = lots\n", "(from locust.conf:1)", "invalid int value: 'lots'"),
    ("pyproject.toml", "[tool.locust]\nusers = [1,\n", "pyproject.toml:3", "unterminated array"),
])
def test_bad_file_is_a_usage_error(tmp_path, home, name, text, where, what):
    (tmp_path / name).write_text(text)
    (tmp_path / "s.lua").write_text(SCENARIO)
    r = subprocess.run([str(CICADA), "-f", "s.lua", "--headless", "-t", "1"], cwd=tmp_path,
                       env=env_with(home), capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r.stderr
    assert where in r.stderr and what in r.stderr, r.stderr


def test_iterations_count_against_nginx(run_cicada, tmp_path, home, nginx):
    """-i 4 with 3 users: exactly 12 tasks reach nginx, and the run ends by
    itself long before -t."""
    (tmp_path / "s.lua").write_text(SCENARIO)
    start = time.monotonic()
    run = run_cicada(["-f", "s.lua", "-H", nginx.url, "--headless", "-u", 3, "-r", 100,
                      "-i", 4, "-t", 60], timeout=30, env=env_with(home))
    took = time.monotonic() - start
    assert run.returncode == 0, run.output
    assert took < 20, (took, run.output)
    assert nginx.count("/a") == 12
    assert "All users finished their 4 iterations" in run.output
    agg = [r for r in run.csv["stats"] if r["Name"] == "Aggregated"][0]
    assert int(agg["Request Count"]) == 12


def test_iterations_in_task_sets_and_on_stop(run_cicada, tmp_path, home, nginx):
    """A task inside a task set is one iteration too; on_stop runs after
    the last one (its request counted apart)."""
    (tmp_path / "s.lua").write_text("""
Shop = cicada.taskset {}
Shop:task(function(self) self.client:get("/a") end)
Web = cicada.user { wait_time = cicada.constant(0) }
Web:task(Shop)
Web.on_stop = function(self) self.client:get("/stop") end
""")
    run = run_cicada(["-f", "s.lua", "-H", nginx.url, "--headless", "-u", 2, "-r", 100,
                      "-i", 5, "-t", 60], timeout=30, env=env_with(home))
    assert run.returncode == 0, run.output
    assert nginx.count("/a") == 10
    assert nginx.count("/stop") == 2


def threads_of(tmp_path, home, nginx, *flags):
    """The number of threads of a headless run of ./cicada with flags, read
    from /proc once it has spawned its users."""
    log = nginx.access_log
    lines = lambda: log.read_text().count(" /a ") if log.exists() else 0  # noqa: E731
    before = lines()
    p = subprocess.Popen([str(CICADA), "-f", "s.lua", "-H", nginx.url, "--headless", "-u", "2",
                          "-r", "100", "-t", "4", *flags], cwd=tmp_path, env=env_with(home),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while lines() < before + 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        status = open(f"/proc/{p.pid}/status").read()
        assert p.poll() is None, "cicada ended too soon"
        return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    finally:
        stop_process(p)


def test_processes_sets_threads(tmp_path, home, nginx):
    """--processes N runs N engine threads, as --threads N does; -1 is one
    per CPU."""
    (tmp_path / "s.lua").write_text(SCENARIO)
    one = threads_of(tmp_path, home, nginx, "--processes", "1")
    three = threads_of(tmp_path, home, nginx, "--processes", "3")
    assert three - one == 2
    assert threads_of(tmp_path, home, nginx, "--threads", "3") == three
    cpus = os.cpu_count()
    assert threads_of(tmp_path, home, nginx, "--processes", "-1") - one == min(cpus, 1024) - 1
    bad = subprocess.run([str(CICADA), "--processes", "2", "--threads", "3"], cwd=tmp_path,
                         env=env_with(home), capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "not allowed with --threads" in bad.stderr


def test_web_login_is_refused_with_what_to_use(tmp_path, home):
    for args, env in ((["--web-login"], {}), ([], {"LOCUST_WEB_LOGIN": "true"})):
        r = subprocess.run([str(CICADA), *args], cwd=tmp_path, env=env_with(home, **env),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2
        assert "--web-login" in r.stderr and "--web-auth USER:PASSWORD" in r.stderr, r.stderr


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def test_web_base_path_routes(tmp_path, home):
    (tmp_path / "s.lua").write_text(SCENARIO)
    port = free_port()
    (tmp_path / "locust.conf").write_text("web-base-path = /perf/ui/\n")  # from a file too
    p = subprocess.Popen([str(CICADA), "-f", "s.lua", "-H", "http://127.0.0.1:9", "--web-port",
                          str(port)], cwd=tmp_path, env=env_with(home),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_port(port, 10, p)
        base = f"http://127.0.0.1:{port}"
        st, body, _ = get(base + "/perf/ui/")
        assert st == 200 and b"app.js" in body
        # the page's links are relative: they resolve inside the prefix
        assert re.search(rb'src="\./app\.js"', body) and b'src="/' not in body
        st, body, _ = get(base + "/perf/ui/stats/requests")
        assert st == 200 and json.loads(body)["state"] == "ready"
        st, _, _ = get(base + "/perf/ui/app.js")
        assert st == 200
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(base + "/perf/ui", timeout=5)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 308 and e.headers["Location"] == "/perf/ui/"
        for path in ("/", "/stats/requests", "/app.js", "/perf", "/perf/uix/"):
            assert get(base + path)[0] == 404, path
    finally:
        stop_process(p)
    assert "Starting web interface at http://127.0.0.1:%d/perf/ui" % port in p.stdout.read()


def test_class_picker_from_config_file(tmp_path, home, nginx):
    """class-picker = true in locust.conf turns the picker on, as the flag
    does: /user_classes says so and /swarm runs only the chosen class."""
    (tmp_path / "s.lua").write_text("""
Alpha = cicada.user { wait_time = cicada.constant(0.05) }
Alpha:task(function(self) self.client:get("/a") end)
Beta = cicada.user { wait_time = cicada.constant(0.05) }
Beta:task(function(self) self.client:get("/b") end)
""")
    port = free_port()
    (tmp_path / "locust.conf").write_text(
        f"locustfile = s.lua\nhost = {nginx.url}\nclass-picker = true\nweb-port = {port}\n")
    p = subprocess.Popen([str(CICADA)], cwd=tmp_path, env=env_with(home),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, 10, p)
        st, body, _ = get(base + "/user_classes")
        assert st == 200 and json.loads(body)["class_picker"] is True
        data = urllib.parse.urlencode([("user_count", 2), ("spawn_rate", 100),
                                       ("user_classes", "Beta")]).encode()
        with urllib.request.urlopen(base + "/swarm", data=data, timeout=10) as r:
            assert json.loads(r.read())["user_classes"] == ["Beta"]
        deadline = time.monotonic() + 10
        while nginx.count("/b", settle=0.1) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        urllib.request.urlopen(base + "/stop", timeout=10).read()
    finally:
        stop_process(p)
    assert nginx.count("/b") >= 5 and nginx.count("/a") == 0
