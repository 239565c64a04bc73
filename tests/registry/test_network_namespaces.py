"""Two installations on two hosts: each in a network namespace of its own, joined by a veth
pair, so the sync crosses a real (virtual) network link and nothing else is shared — not
even loopback. Needs root and `ip netns`; skipped, saying so, where the machine has neither."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.registry.conftest import Site, same_tree, write_files

TOKEN = "t" * 40


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def hosts() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip` (not here)")
    s = uuid.uuid4().hex[:6]
    a, b = f"kiln-a-{s}", f"kiln-b-{s}"
    try:
        _ip("netns", "add", a)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"this machine cannot make network namespaces: {e.stderr.decode().strip()}")
    try:
        _ip("netns", "add", b)
        _ip("link", "add", f"va{s}", "type", "veth", "peer", "name", f"vb{s}")
        _ip("link", "set", f"va{s}", "netns", a)
        _ip("link", "set", f"vb{s}", "netns", b)
        _ip("-n", a, "addr", "add", "10.77.1.1/24", "dev", f"va{s}")
        _ip("-n", b, "addr", "add", "10.77.1.2/24", "dev", f"vb{s}")
        for ns, dev in ((a, f"va{s}"), (b, f"vb{s}")):
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def in_ns(ns: str, site: Site, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "kiln.cli", *args],
                          env={**os.environ, **site.env, **(env or {}), "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=300)


def test_sync_across_two_hosts(hosts: tuple[str, str], tmp_path: Path):
    ns_a, ns_b = hosts
    a, b = Site(tmp_path / "a"), Site(tmp_path / "b")
    assert a.cli("volume", "create", "data").returncode == 0
    write_files(a.volume_path("data"), 50, 100_000)
    port = free_port()
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns_a, sys.executable, "-m", "kiln.cli", "server", "--host",
         "10.77.1.1", "--port", str(port), "--auth", "--no-scheduler"],
        env={**os.environ, **a.env, "KILN_SERVER_TOKEN": TOKEN, "KILN_ADMIN_PASSWORD": "x" * 12},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://10.77.1.1:{port}"
    try:
        probe = (f"import urllib.request,time\nfor _ in range(300):\n try:\n  urllib.request."
                 f"urlopen('{url}/api/v1/health',timeout=1); break\n except OSError: "
                 "time.sleep(0.2)\nelse: raise SystemExit(1)")
        assert subprocess.run(["ip", "netns", "exec", ns_b, sys.executable, "-c", probe],
                              timeout=120).returncode == 0
        # B's host has its own loopback: A is only reachable over the link
        r = in_ns(ns_b, b, "registry", "search", env={"KILN_URL": f"http://127.0.0.1:{port}"})
        assert r.returncode != 0 and "cannot reach" in r.stderr
        assert a.cli("publish", "data", "--bucket", "local/data").returncode == 0
        r = in_ns(ns_b, b, "subscribe", "local/data", "--to", "data", "--from", url,
                  "--token-env", "PEER", "--json", env={"PEER": TOKEN})
        assert r.returncode == 0, r.stderr
        sid = json.loads(r.stdout)["id"]
        assert same_tree(a.volume_path("data"), b.volume_path("data"))
        (a.volume_path("data") / "part-0007.bin").write_bytes(os.urandom(100_000))
        assert a.cli("publish", "data", "--bucket", "local/data").returncode == 0
        r = in_ns(ns_b, b, "subscription", "sync", str(sid), "--json")
        assert r.returncode == 0, r.stderr
        done = json.loads(r.stdout)
        assert done["fetched"] == 2 and done["bytes_received"] < 200_000
        assert same_tree(a.volume_path("data"), b.volume_path("data"))
        # without the token the peer refuses, and says nothing of the bucket
        c = Site(tmp_path / "c")
        r = in_ns(ns_b, c, "subscribe", "local/data", "--to", "data", "--from", url)
        assert r.returncode == 2 and "sign in" in r.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
