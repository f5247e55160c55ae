"""Master and workers as separate hosts: each worker runs in its own network
namespace (and UTS namespace, so its node id names its own host), joined
to this machine by a veth pair with private 10.200.x.y/30 addresses that
the test creates and removes. The master binds the address facing the
first namespace; nginx listens on both link addresses, so every packet
stays on this machine. Skipped where `ip netns` is not allowed (not root).
"""

import os
import re
import subprocess
import time

import pytest

import conftest
from conftest import CICADA, Nginx, free_port, read_csvs
from test_dist import SCENARIO, agg_count, procs, spawned  # noqa: F401 (fixture)

LINKS = [("a", "10.200.71.1", "10.200.71.2"), ("b", "10.200.72.1", "10.200.72.2")]


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def netns_works():
    if os.geteuid() != 0:
        return False
    name = f"cicada-probe-{os.getpid()}"
    if ip("netns", "add", name, check=False).returncode != 0:
        return False
    ip("netns", "del", name, check=False)
    return True


@pytest.fixture
def namespaces():
    """Two namespaces with a veth link each: {tag: (ns, host_addr, ns_addr)}."""
    if not netns_works():
        pytest.skip("ip netns is not available (needs root)")
    made = {}
    pid = os.getpid() % 100000
    try:
        for tag, host_addr, ns_addr in LINKS:
            ns = f"cicada-{tag}-{pid}"
            outer, inner = f"cic{tag}{pid}h", f"cic{tag}{pid}n"
            ip("netns", "add", ns)
            made[tag] = (ns, host_addr, ns_addr, outer)
            ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            ip("link", "set", inner, "netns", ns)
            ip("addr", "add", f"{host_addr}/30", "dev", outer)
            ip("link", "set", outer, "up")
            ip("-n", ns, "addr", "add", f"{ns_addr}/30", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "default", "via", host_addr)
        yield made
    finally:
        for ns, _, _, outer in made.values():
            ip("netns", "del", ns, check=False)
            ip("link", "del", outer, check=False)


class LinkNginx(Nginx):
    """The conftest nginx, also listening on the veth addresses."""

    def __init__(self, d, addrs):
        super().__init__(d)
        self.addrs = addrs

    def start(self, timeout=10.0):
        extra = "".join(f"        listen {a}:{self.port};\n" for a in self.addrs)
        old = conftest.NGINX_CONF
        conftest.NGINX_CONF = old.replace(
            "        listen 127.0.0.1:{port} backlog=4096;\n",
            "        listen 127.0.0.1:{port} backlog=4096;\n" + extra)
        try:
            return super().start(timeout)
        finally:
            conftest.NGINX_CONF = old


@pytest.mark.time_limit(90)
def test_workers_in_their_own_network_namespaces(tmp_path, namespaces, procs):
    addrs = [host_addr for _, host_addr, _, _ in namespaces.values()]
    (tmp_path / "nginx").mkdir()
    nginx = LinkNginx(tmp_path / "nginx", addrs).start()
    try:
        scenario = tmp_path / "dist.lua"
        scenario.write_text(SCENARIO)
        port = free_port()
        master_addr = namespaces["a"][1]
        master = procs("master", [CICADA, "-f", scenario, "--master", "--headless",
                                  "--master-bind-host", master_addr, "--master-bind-port", port,
                                  "-u", 8, "-r", 8, "-t", 5, "--expect-workers", 2,
                                  "--csv", tmp_path / "m"])
        workers = []
        for tag, (ns, host_addr, _, _) in namespaces.items():
            # its own UTS namespace too: the node id starts with its own host name
            cmd = ["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
                   f'hostname host{tag} && exec "$@"', "sh",
                   CICADA, "-f", scenario, "--worker", "--master-host", master_addr,
                   "--master-port", port, "--threads", 2, "-H", f"http://{host_addr}:{nginx.port}"]
            workers.append(procs(f"w{tag}", cmd, env={"CICADA_TAG": tag}))
        assert master.wait(40) == 0, master.text()
        for w in workers:
            assert w.wait(15) == 0, w.text()
        text = master.text()
        assert re.search(r"Worker hosta_[0-9a-f]{32} \(index \d\) reported as ready", text), text
        assert re.search(r"Worker hostb_[0-9a-f]{32} \(index \d\) reported as ready", text), text
        for w in workers:
            assert spawned(w.text())[1] == 4, w.text()
        _, csvs = read_csvs(tmp_path / "m")
        served = nginx.counts_by_path()
        assert agg_count(csvs) == sum(served.values()) > 0, (csvs["stats"], served)
        assert {p.split("/")[1] for p in served} == {"a", "b"}, served
    finally:
        nginx.stop()
