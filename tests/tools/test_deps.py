"""Tests of tools/deps, the folder include-cycle check of `make test`, on
tiny fake source trees: it must pass an acyclic tree, and fail on a cycle
naming the folders and the include lines that make it."""
import os
import subprocess
import sys

DEPS = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "deps")


def tree(tmp_path, files):
    for path, text in files.items():
        p = tmp_path / "src" / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(tmp_path / "src")


def run(src, *flags):
    return subprocess.run([sys.executable, DEPS, *flags, src], capture_output=True, text=True,
                          timeout=30)


def test_acyclic_tree_passes(tmp_path):
    src = tree(tmp_path, {
        "base/log.h": "",
        "engine/loop.c": '#include "base/log.h"\n#include "engine/loop.h"\n',
        "runner/runner.c": '#include "engine/loop.h"\n#include "base/log.h"\n',
        "main.c": '#include "runner/runner.h"\n',
    })
    r = run(src, "--graph")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "engine -> base  (1 include)" in r.stdout
    assert "runner -> engine  (1 include)" in r.stdout
    assert "no cycle" in r.stdout


def test_two_folder_cycle_fails_naming_the_lines(tmp_path):
    src = tree(tmp_path, {
        "http/client.h": '#include <stdio.h>\n#include "engine/engine.h"\n',
        "engine/engine.c": '#include "http/client.h"\n',
        "base/buf.h": "",
    })
    r = run(src)
    assert r.returncode == 1
    assert "include cycle between folders: engine -> http -> engine" in r.stdout
    assert "http/client.h:2" in r.stdout
    assert "engine/engine.c:1" in r.stdout


def test_longer_cycle_and_system_includes(tmp_path):
    # a -> b -> c -> a through three folders; <x/y.h> and includes of
    # names that are not folders of src are not edges
    src = tree(tmp_path, {
        "a/a.c": '#include "b/b.h"\n#include <openssl/ssl.h>\n',
        "b/b.h": '#include "c/c.h"\n#include "lua.h"\n',
        "c/c.c": '  #  include "a/a.h"\n',
        "d/d.c": '#include "openssl/ssl.h"\n',
    })
    r = run(src)
    assert r.returncode == 1
    assert "a -> b -> c -> a" in r.stdout
    assert "openssl" not in r.stdout and "d ->" not in r.stdout


def test_own_folder_is_no_edge(tmp_path):
    src = tree(tmp_path, {"engine/engine.c": '#include "engine/engine.h"\n'})
    r = run(src)
    assert r.returncode == 0
