"""The Kubernetes manifests and the Dockerfile in deploy/ hang together.

No cluster and no docker here: this reads the YAML (python3-yaml) and checks
what a typo would break at `kubectl apply` time or, worse, only when the
pods start:

- every file parses; each kustomization lists files that exist;
- the objects: ConfigMap cicada-scenario, Deployment and Service
  cicada-master, Deployment cicada-worker (kinds, names, 1 master replica);
- labels: each Deployment's selector matches its pod template; the Service
  selects the master's pods and not the workers';
- ports: the Service exposes 8089 (web) and 5557 (zmq), whose target ports
  name container ports with the same numbers, and the master binds what
  the Service forwards to;
- the workers point at the master Service by name and port;
- the ConfigMap's key is the file name the containers run with -f, and it
  is mounted (read-only) at that file's directory in both Deployments;
- resource requests and limits on every container, requests <= limits;
- every cicada flag used in the manifests is one cicada knows, the scenario
  in the ConfigMap loads in ./cicada (--list shows its class), and the
  headless overlay runs --headless with CSVs under a mounted /results;
- the Dockerfile builds on debian:12 with make, and runs cicada;
- if kubectl is installed, `kubectl kustomize` (local, no cluster) renders
  both variants into the same objects.
"""

import posixpath
import re
import shlex
import shutil
import subprocess

import pytest

yaml = pytest.importorskip("yaml")  # python3-yaml, in the Makefile's TEST_DEBS

from conftest import REPO

K8S = REPO / "deploy" / "kubernetes"
SERVICE = "cicada-master"
CONFIGMAP = "cicada-scenario"


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def base_objects():
    """The objects of deploy/kubernetes/base, keyed by (kind, name)."""
    kust = load(K8S / "base" / "kustomization.yaml")[0]
    objs = {}
    for res in kust["resources"]:
        for d in load(K8S / "base" / res):
            key = (d["kind"], d["metadata"]["name"])
            assert key not in objs, f"{key} defined twice"
            objs[key] = d
    return objs


@pytest.fixture(scope="module")
def objs():
    return base_objects()


def container(dep):
    cs = dep["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1, f"{dep['metadata']['name']}: one container expected"
    return cs[0]


def flag(args, name):
    """The value of --name in an argument list (--name=v or --name v)."""
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def quantity(q):
    """CPU or memory quantity as a number (enough for the units used here)."""
    q = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in sorted(units.items(), key=lambda x: -len(x[0])):
        if q.endswith(u):
            return float(q[: -len(u)]) * f
    return float(q)


# ---------------------------------------------------------------- files


def test_every_yaml_file_parses():
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 7, files
    for f in files:
        docs = load(f)
        assert docs, f"{f}: empty"
        for d in docs:
            assert isinstance(d, dict) and "apiVersion" in d and "kind" in d, f


def test_kustomizations_list_existing_files():
    for kfile in K8S.rglob("kustomization.yaml"):
        k = load(kfile)[0]
        assert k["kind"] == "Kustomization"
        for res in k.get("resources", []) + [p["path"] for p in k.get("patches", [])]:
            assert (kfile.parent / res).exists(), f"{kfile}: {res} is missing"
    # every manifest in base/ is listed, so none is silently left out
    listed = set(load(K8S / "base" / "kustomization.yaml")[0]["resources"])
    present = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


# ---------------------------------------------------------------- objects


def test_kinds_and_names(objs):
    assert set(objs) == {
        ("ConfigMap", CONFIGMAP),
        ("Deployment", "cicada-master"),
        ("Service", SERVICE),
        ("Deployment", "cicada-worker"),
    }
    assert objs[("Deployment", "cicada-master")]["spec"]["replicas"] == 1
    assert objs[("Deployment", "cicada-worker")]["spec"]["replicas"] >= 1


def test_selectors_match_labels(objs):
    master = objs[("Deployment", "cicada-master")]
    worker = objs[("Deployment", "cicada-worker")]
    for dep in (master, worker):
        sel = dep["spec"]["selector"]["matchLabels"]
        assert sel and selects(sel, dep["spec"]["template"]["metadata"]["labels"])
    # the two Deployments must not claim each other's pods
    assert not selects(master["spec"]["selector"]["matchLabels"],
                       worker["spec"]["template"]["metadata"]["labels"])
    assert not selects(worker["spec"]["selector"]["matchLabels"],
                       master["spec"]["template"]["metadata"]["labels"])
    svc = objs[("Service", SERVICE)]["spec"]["selector"]
    assert selects(svc, master["spec"]["template"]["metadata"]["labels"])
    assert not selects(svc, worker["spec"]["template"]["metadata"]["labels"])


def test_service_ports_reach_the_master(objs):
    svc = objs[("Service", SERVICE)]
    c = container(objs[("Deployment", "cicada-master")])
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    sports = {p["port"]: p for p in svc["spec"]["ports"]}
    assert set(sports) == {8089, 5557}
    for port, p in sports.items():
        target = p.get("targetPort", port)
        number = cports[target] if isinstance(target, str) else target
        assert number == port, f"service port {port} -> container port {number}"
    args = c["args"]
    assert "--master" in args
    assert int(flag(args, "--master-bind-port") or 5557) == 5557
    assert int(flag(args, "--web-port") or 8089) == 8089
    # reachable from other pods: not bound to loopback (cicada's default web host)
    assert flag(args, "--master-bind-host") in (None, "*", "0.0.0.0")
    assert flag(args, "--web-host") in ("*", "0.0.0.0", "")


def test_workers_point_at_the_master_service(objs):
    args = container(objs[("Deployment", "cicada-worker")])["args"]
    assert "--worker" in args and "--master" not in args
    assert flag(args, "--master-host") == SERVICE
    svc_zmq = [p for p in objs[("Service", SERVICE)]["spec"]["ports"] if p["port"] == 5557]
    assert svc_zmq and int(flag(args, "--master-port") or 5557) == 5557


def test_scenario_configmap_is_mounted_where_f_points(objs):
    cm = objs[("ConfigMap", CONFIGMAP)]
    for name in ("cicada-master", "cicada-worker"):
        dep = objs[("Deployment", name)]
        c = container(dep)
        path = flag(c["args"], "-f")
        assert path, f"{name}: no -f"
        mount_dir, key = posixpath.split(path)
        assert key in cm["data"], f"{name}: runs {key}, ConfigMap has {list(cm['data'])}"
        vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        mounts = [m for m in c["volumeMounts"] if m["mountPath"] == mount_dir]
        assert len(mounts) == 1, f"{name}: nothing mounted at {mount_dir}"
        assert mounts[0].get("readOnly") is True
        vol = vols[mounts[0]["name"]]
        assert vol["configMap"]["name"] == CONFIGMAP
        for item in vol["configMap"].get("items", []):  # if items remap keys, they must keep the name
            assert item["path"] == key


def test_resources_requested_and_limited(objs):
    for name in ("cicada-master", "cicada-worker"):
        r = container(objs[("Deployment", name)])["resources"]
        for res in ("cpu", "memory"):
            req, lim = r["requests"][res], r["limits"][res]
            assert quantity(req) <= quantity(lim), f"{name} {res}: {req} > {lim}"
    # --threads on workers should not exceed their CPU limit
    c = container(objs[("Deployment", "cicada-worker")])
    threads = flag(c["args"], "--threads")
    if threads:
        assert int(threads) <= quantity(c["resources"]["limits"]["cpu"])


def test_images_are_named_in_the_kustomization(objs):
    images = {i["name"] for i in load(K8S / "base" / "kustomization.yaml")[0]["images"]}
    for name in ("cicada-master", "cicada-worker"):
        assert container(objs[("Deployment", name)])["image"] in images


# ---------------------------------------------------------------- cicada itself


def cicada_flags(cicada_bin):
    out = subprocess.run([str(cicada_bin), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", out.stdout))


def used_flags(args):
    return {a.split("=", 1)[0] for a in args if a.startswith("-")}


def headless_master_args():
    patch = load(K8S / "headless" / "master-headless.yaml")[0]
    c = patch["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][:2] == ["/bin/sh", "-c"]
    script = c["args"][0].replace("\\\n", " ")
    line = next(ln for ln in script.splitlines() if "cicada" in ln and "--master" in ln)
    words = shlex.split(line)
    assert words[0].endswith("/cicada")
    return patch, c, words[1:]


def test_manifest_flags_are_cicada_flags(objs, cicada):
    known = cicada_flags(cicada)
    for name in ("cicada-master", "cicada-worker"):
        unknown = used_flags(container(objs[("Deployment", name)])["args"]) - known
        assert not unknown, f"{name}: cicada has no {unknown}"
    _, _, args = headless_master_args()
    assert not used_flags(args) - known


def test_headless_overlay(objs):
    k = load(K8S / "headless" / "kustomization.yaml")[0]
    assert "../base" in k["resources"]
    patch, c, args = headless_master_args()
    assert patch["kind"] == "Deployment" and patch["metadata"]["name"] == "cicada-master"
    master = container(objs[("Deployment", "cicada-master")])
    assert c["name"] == master["name"], "a patch for a container that does not exist adds one"
    assert "--headless" in args and "--master" in args
    assert flag(args, "-f") == flag(master["args"], "-f")
    assert int(flag(args, "--master-bind-port")) == 5557
    assert int(flag(args, "--expect-workers")) <= objs[("Deployment", "cicada-worker")]["spec"]["replicas"]
    results = {m["mountPath"] for m in master["volumeMounts"]}
    for out in (flag(args, "--csv"), flag(args, "--html")):
        assert out and posixpath.dirname(out) in results, f"{out} is not on a mounted volume"


def test_scenario_in_the_configmap_loads(objs, cicada, tmp_path):
    cm = objs[("ConfigMap", CONFIGMAP)]
    for k, text in cm["data"].items():  # the scenario, and any data files beside it
        (tmp_path / k).write_text(text)
    key = posixpath.basename(flag(container(objs[("Deployment", "cicada-worker")])["args"], "-f"))
    out = subprocess.run([str(cicada), "-f", str(tmp_path / key), "--list"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "WebsiteUser" in out.stdout


def test_dockerfile():
    text = (REPO / "deploy" / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms and all(f.startswith("debian:12") for f in froms), froms
    assert re.search(r"^RUN .*\bmake\b.*\bcicada\b", text, re.M | re.S)
    assert 'ENTRYPOINT ["/usr/local/bin/cicada"]' in text
    assert re.search(r"^EXPOSE .*\b8089\b.*\b5557\b", text, re.M)
    # the headless overlay runs the binary at the path the image installs it to
    _, _, _ = headless_master_args()
    assert "/usr/local/bin/cicada " in (K8S / "headless" / "master-headless.yaml").read_text()


# ---------------------------------------------------------------- kustomize


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("variant", ["", "headless"])
def test_kustomize_renders(variant):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / variant)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert kinds == sorted(base_objects())
    master = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "cicada-master")
    c = container(master)
    assert c["image"].startswith("cicada")
    assert ("--headless" in " ".join(c["args"])) == (variant == "headless")
