"""Every example scenario that needs only HTTP loads and runs.

For each examples/locust/*.lua (the ports of Locust's own examples/) and
each examples/*.lua that talks only HTTP:

- `cicada -f FILE -l` lists its user classes (exit 0);
- a short headless run against the demo site (-H, a few users, -t 2s; a
  scenario with a load shape runs without -u/-r/-t and is stopped with
  SIGINT after 2 s) exits 0 or 1 (1: the example fails requests on purpose,
  e.g. 404s), has no Lua exceptions unless the example raises on purpose,
  no errors from event listeners, and, if it makes requests, made some.

One demo server serves the whole module. Redis and WebSocket examples need
their servers: test_cosocket.py runs them.
"""

import os
import signal
import time

import pytest

from conftest import REPO, demo_server, free_port

EXAMPLES = REPO / "examples"
NOT_HTTP = {"redis.lua", "websocket.lua"}  # covered by test_cosocket.py

# Examples that raise Lua errors on purpose (they become exceptions).
RAISES = {"manual_stats_reporting.lua"}
# Examples whose users make no requests (they print, or report their own).
NO_REQUESTS = {"add_command_line_argument.lua", "worker_index.lua"}
# Examples whose users may not get to a request in 2 s (they wait for the
# whole swarm, then a between(2, 5) wait first, as Locust's example does).
SLOW_START = {"semaphore_wait.lua"}
# Classes each example must list (beyond "at least one").
CLASSES = {
    "custom_wait_function.lua": ["StrictWebsiteUser", "WebsiteUser"],
    "custom_shape_staging_user_classes.lua": ["WebsiteUserA", "WebsiteUserB"],
    "multiple_hosts.lua": ["WebsiteUser"],  # MultipleHostsUser is abstract
}
NOT_LISTED = {"multiple_hosts.lua": ["MultipleHostsUser"]}


def example_files():
    files = sorted((EXAMPLES / "locust").glob("*.lua"))
    files += sorted(p for p in EXAMPLES.glob("*.lua") if p.name not in NOT_HTTP)
    return files


FILES = example_files()
IDS = [str(p.relative_to(EXAMPLES)) for p in FILES]


def has_shape(path):
    return "cicada.shape(" in "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))


@pytest.fixture(scope="module")
def demo(cicada):
    port = free_port()
    with demo_server(port, "--slow-delay", 0.05):
        yield f"http://127.0.0.1:{port}"


def test_there_are_ports_of_locusts_examples():
    names = {p.name for p in (EXAMPLES / "locust").glob("*.lua")}
    for want in ["basic", "locustfile", "nested_inline_tasksets", "browse_docs_test",
                 "browse_docs_sequence_test", "custom_wait_function", "dynamic_user_credentials",
                 "events", "fast_http_locust", "manual_stats_reporting", "multiple_hosts",
                 "semaphore_wait", "stop_on_threshold", "test_data_management", "worker_index",
                 "add_command_line_argument", "custom_shape_stages", "custom_shape_step_load",
                 "custom_shape_double_wave", "custom_shape_staging_user_classes",
                 "custom_shape_wait_user_count"]:
        assert want + ".lua" in names, f"examples/locust/{want}.lua is missing"
    assert (EXAMPLES / "locust" / "README.md").is_file()


@pytest.mark.time_limit(30)
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_example_lists_its_classes(path, run_cicada):
    run = run_cicada(["-f", path, "-l"], timeout=15, csv=False, cwd=REPO)
    assert run.returncode == 0, run.output
    lines = [l.strip() for l in run.stdout.splitlines()]
    assert "Available Users:" in lines, run.output
    classes = lines[lines.index("Available Users:") + 1:]
    assert [c for c in classes if c], f"no user classes listed\n{run.output}"
    for c in CLASSES.get(path.name, []):
        assert c in classes, f"{c} not listed\n{run.output}"
    for c in NOT_LISTED.get(path.name, []):
        assert c not in classes, f"{c} listed\n{run.output}"


@pytest.mark.time_limit(40)
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_example_runs(path, demo, run_cicada, spawn_cicada):
    env = dict(os.environ, API_HOST=demo, LOCUST_MY_ARGUMENT="from-the-test")
    args = ["-f", path, "--headless", "--only-summary", "-H", demo]
    if has_shape(path):
        proc, finish = spawn_cicada(args)
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        run = finish(20)
    else:
        # an example that raises at random (manual_stats_reporting: about half
        # of its tasks) gets enough users that it certainly does in 2 s
        users = 20 if path.name in RAISES else 3
        run = run_cicada(args + ["-u", users, "-r", users, "-t", "2s", "--threads", 2],
                         timeout=25, env=env, cwd=REPO)
    assert run.returncode in (0, 1), run.output
    assert "error in" not in run.stderr, f"an event listener failed\n{run.output}"
    exceptions = run.csv.get("exceptions", [])
    if path.name in RAISES:
        assert exceptions, f"{path.name} raises on purpose, but no exception was recorded"
    else:
        assert not exceptions, f"Lua exceptions:\n{exceptions}\n{run.output}"
    stats = run.csv.get("stats", [])
    assert stats and stats[-1]["Name"] == "Aggregated", run.output
    total = int(stats[-1]["Request Count"])
    if path.name in NO_REQUESTS:
        assert total == 0, run.output
    elif path.name not in SLOW_START:
        assert total > 0, f"no requests were made\n{run.output}"


@pytest.mark.time_limit(30)
def test_add_command_line_argument_reads_the_environment(demo, run_cicada):
    env = dict(os.environ, LOCUST_MY_ARGUMENT="hello-from-env")
    run = run_cicada(["-f", EXAMPLES / "locust" / "add_command_line_argument.lua", "--headless",
                      "-u", 1, "-r", 1, "-t", "2s", "-H", demo, "--threads", 1],
                     timeout=20, env=env, cwd=REPO, csv=False)
    assert run.returncode == 0, run.output
    assert "Custom argument supplied: hello-from-env" in run.stdout, run.output
    assert "my_argument=hello-from-env" in run.stdout, run.output


@pytest.mark.time_limit(30)
def test_multiple_hosts_uses_the_second_client(demo, run_cicada):
    """The api_client (cicada.client(API_HOST)) goes to another host: here
    an unused port, so its requests fail with a connection error while the
    main client's succeed."""
    env = dict(os.environ, API_HOST=f"http://127.0.0.1:{free_port()}")
    run = run_cicada(["-f", EXAMPLES / "locust" / "multiple_hosts.lua", "--headless",
                      "-u", 20, "-r", 20, "-t", "2s", "-H", demo], timeout=20, env=env, cwd=REPO)
    assert run.returncode in (0, 1), run.output
    idx, other = run.stats_row("/"), run.stats_row("/stats/requests")
    assert idx and int(idx["Failure Count"]) == 0, run.output
    assert other and int(other["Failure Count"]) == int(other["Request Count"]) > 0, run.output
    errors = {r["Error"] for r in run.csv["failures"]}
    assert any("Connection refused" in e for e in errors), errors
