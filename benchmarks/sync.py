"""Syncing a volume between two installations vs rsync (and restic copy), in one run.

Data: a volume of --gb (default 1) GB in 200 files — half random (incompressible), half
numpy arrays of a smooth signal (compressible) — on installation A, served by `kiln server`
on loopback. Installation B follows A's bucket. Then 1% of the volume changes (two of the
200 files are rewritten) and A publishes again. Timed for each side, same data, same
machine, each side's own copies (no cache shared):

  first sync     kilnflow: `kiln subscribe` (B's first sync, over HTTP from A's server)
                 rsync:    `rsync -a` pull from an rsync daemon on loopback serving A's folder
  change sync    kilnflow: `kiln subscription sync` after A published the change (a new
                           process, as rsync's is), and once more through B's running
                           server (POST .../sync: what its scheduler does, no process start)
                 rsync:    the same pull again (its delta algorithm; quick check by size/time)
                 restic:   `restic copy` of the new snapshot between two repositories that
                           share chunker parameters (no network: the repositories' growth)

Bytes on the wire: kilnflow counts every response and request body its HTTP client moved
(manifests, blob lists, packs); rsync's own --stats ("Total bytes received" + "sent"). What
each does that the other does not: kilnflow fsyncs every pack and index before recording the
version, checks every piece's BLAKE3 id on arrival, keeps the old version as a snapshot and
restores the new one into B's volume folder; rsync writes files in place (no fsync, no
history); restic encrypts and keeps both snapshots. Publishing on A (a snapshot of the
volume) is timed apart: rsync needs no such step, so it is not part of the sync figure.

    python benchmarks/sync.py [--gb 1] [--repeats 1] [--keep]
Target: change sync bytes <= 1.2x the changed content, and time no worse than rsync.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import emit

FILES = 200


def ensure(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    print(f"installing {tool} (apt-get)...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", tool], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which(tool) or tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_file(path: Path, size: int, i: int, rng: np.random.Generator) -> None:
    if i % 2:
        path.write_bytes(rng.bytes(size))
    else:
        signal = (np.cumsum(rng.standard_normal(size // 4, dtype=np.float32)) * 0.01)
        path.write_bytes(signal.astype(np.float32).round(3).tobytes())


def generate(root: Path, gb: float, rng: np.random.Generator) -> int:
    root.mkdir(parents=True, exist_ok=True)
    size = int(gb * (1 << 30)) // FILES
    for i in range(FILES):
        write_file(root / f"part-{i:03d}.bin", size, i, rng)
    return sum(p.stat().st_size for p in root.iterdir())


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return took, r.stdout


def kiln(*args: str, home: Path) -> tuple[float, str]:
    return run([sys.executable, "-m", "kiln.cli", *args],
               {"KILN_HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg")})


def rsync_pull(rsync: str, port: int, dest: Path) -> tuple[float, int]:
    took, out = run([rsync, "-a", "--stats", f"rsync://127.0.0.1:{port}/vol/", f"{dest}/"])
    moved = 0
    for line in out.splitlines():
        if line.startswith(("Total bytes sent:", "Total bytes received:")):
            moved += int(line.split(":")[1].strip().replace(",", ""))
    return took, moved


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=1, help="whole rounds, each on new data")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    rsync, restic = ensure("rsync"), ensure("restic")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.platform()}")
    for rnd in range(1, args.repeats + 1):
        one_round(args.gb, rnd, rsync, restic, args.keep)


def one_round(gb: float, rnd: int, rsync: str, restic: str, keep: bool) -> None:
    rng = np.random.default_rng(rnd)
    work = Path(tempfile.mkdtemp(prefix="kiln-sync-bench-"))
    a, b = work / "a", work / "b"
    try:
        kiln("volume", "create", "data", home=a)
        vol = a / "volumes" / "data"
        total = generate(vol, gb, rng)
        print(f"round {rnd}: {total / 1e9:.2f} GB in {FILES} files")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "kiln.cli", "server", "--port",
                                   str(port), "--no-scheduler"],
                                  env={**os.environ, "KILN_HOME": str(a)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        rsyncd_port = free_port()
        conf = work / "rsyncd.conf"
        owner = "uid = root\ngid = root\n" if os.geteuid() == 0 else ""  # else: nobody
        conf.write_text(f"port = {rsyncd_port}\naddress = 127.0.0.1\nuse chroot = no\n"
                        f"pid file = {work}/rsyncd.pid\n{owner}[vol]\npath = {vol}\n"
                        "read only = yes\n")
        rsyncd = subprocess.Popen([rsync, "--daemon", "--no-detach", f"--config={conf}"])
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url)
            pub1, _ = kiln("publish", "data", "--bucket", "local/data", "-m", "v1", home=a)
            k_first, out = kiln("subscribe", "local/data", "--to", "data", "--from", url,
                                "--json", home=b)
            first = json.loads(out)
            sid = first["id"]
            r_first, r_first_bytes = rsync_pull(rsync, rsyncd_port, work / "rsync-copy")
            # restic: A's folder backed up into repo 1; repo 2 shares its chunker parameters
            renv = {"RESTIC_PASSWORD": "bench", "RESTIC_FROM_PASSWORD": "bench"}
            r1, r2 = work / "restic1", work / "restic2"
            run([restic, "init", "-q", "--repo", str(r1)], renv)
            run([restic, "init", "-q", "--repo", str(r2), "--from-repo", str(r1),
                 "--copy-chunker-params"], renv)
            run([restic, "backup", "-q", "--repo", str(r1), str(vol)], renv)
            t_copy1, _ = run([restic, "copy", "-q", "--repo", str(r2), "--from-repo", str(r1)],
                             renv)
            before_r2 = du(r2)
            # 1% changes: two of the 200 files rewritten
            changed = 0
            for i in (17, 118):
                p = vol / f"part-{i:03d}.bin"
                write_file(p, p.stat().st_size, i, np.random.default_rng(1000 + rnd + i))
                changed += p.stat().st_size
            pub2, _ = kiln("publish", "data", "--bucket", "local/data", "-m", "v2", home=a)
            k_change, out = kiln("subscription", "sync", str(sid), "--json", home=b)
            second = json.loads(out)
            r_change, r_change_bytes = rsync_pull(rsync, rsyncd_port, work / "rsync-copy")
            run([restic, "backup", "-q", "--repo", str(r1), str(vol)], renv)
            t_copy2, _ = run([restic, "copy", "-q", "--repo", str(r2), "--from-repo", str(r1)],
                             renv)
            restic_bytes = du(r2) - before_r2
            # the same through B's running server, as its scheduler does: no process to start
            write_file(vol / "part-042.bin", (vol / "part-042.bin").stat().st_size, 0,
                       np.random.default_rng(2000 + rnd))
            kiln("publish", "data", "--bucket", "local/data", "-m", "v3", home=a)
            b_port = free_port()
            b_server = subprocess.Popen([sys.executable, "-m", "kiln.cli", "server", "--port",
                                         str(b_port), "--no-scheduler"],
                                        env={**os.environ, "KILN_HOME": str(b)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            try:
                _wait(f"http://127.0.0.1:{b_port}")
                k_served, third = _post(f"http://127.0.0.1:{b_port}/api/v1/subscriptions/"
                                        f"{sid}/sync")
            finally:
                b_server.terminate()
                b_server.wait(timeout=30)
            r_served, r_served_bytes = rsync_pull(rsync, rsyncd_port, work / "rsync-copy")
        finally:
            server.terminate()
            rsyncd.terminate()
            server.wait(timeout=30)
            rsyncd.wait(timeout=30)
        same = _same(vol, b / "volumes" / "data")
        label = f"{gb:g} GB"
        print(f"\n{'case':44} {'kilnflow':>12} {'rsync':>12} {'ratio':>7}")
        print(f"{'first sync (s)':44} {k_first:12.2f} {r_first:12.2f} {k_first / r_first:7.2f}")
        fb = first["sync"]["bytes_received"]
        print(f"{'first sync bytes on the wire (MB)':44} {fb / 1e6:12.1f} "
              f"{r_first_bytes / 1e6:12.1f} {fb / r_first_bytes:7.2f}")
        print(f"{'1% change sync (s)':44} {k_change:12.2f} {r_change:12.2f} "
              f"{k_change / r_change:7.2f}")
        print(f"{'1% change bytes on the wire (MB)':44} {second['bytes_received'] / 1e6:12.2f} "
              f"{r_change_bytes / 1e6:12.2f} {second['bytes_received'] / r_change_bytes:7.2f}")
        print(f"{'0.5% change sync via B server (s)':44} {k_served:12.2f} {r_served:12.2f} "
              f"{k_served / r_served:7.2f}   ({third['bytes_received'] / 1e6:.2f} MB vs "
              f"{r_served_bytes / 1e6:.2f} MB)")
        print(f"changed content {changed / 1e6:.2f} MB; kilnflow moved "
              f"{second['bytes_received'] / changed:.3f}x of it ({second['fetched']} of "
              f"{second['pieces']} pieces), rsync {r_change_bytes / changed:.3f}x")
        print(f"restic copy: first {t_copy1:.2f} s, change {t_copy2:.2f} s, repository grew "
              f"{restic_bytes / 1e6:.2f} MB ({restic_bytes / changed:.3f}x the change; "
              "local repositories, encrypted)")
        print(f"publish on A (a snapshot; rsync has no such step): v1 {pub1:.2f} s, "
              f"v2 {pub2:.2f} s")
        print(f"B's volume equals A's: {same}")
        notes = ("kilnflow fsyncs and checks every piece, keeps history; rsync writes in "
                 "place; rsync daemon on loopback, kiln server on loopback")
        emit("sync", f"{label}: first sync (round {rnd})", k_first, r_first, "s", notes)
        emit("sync", f"{label}: 1% change sync (round {rnd})", k_change, r_change, "s", notes)
        emit("sync", f"{label}: 0.5% change sync through the running server (round {rnd})",
             k_served, r_served, "s", notes + "; no process start on our side")
        emit("sync", f"{label}: 1% change bytes on the wire (round {rnd})",
             second["bytes_received"], r_change_bytes, "bytes", notes)
        emit("sync", f"{label}: 1% change bytes / changed bytes (round {rnd})",
             second["bytes_received"] / changed, 1.2, "x", "target <= 1.2")
        emit("sync", f"{label}: restic copy of the change (round {rnd})", k_change, t_copy2,
             "s", "restic: local repositories, encrypted")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _wait(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("kiln server did not start")


def _post(url: str) -> tuple[float, dict[str, object]]:
    import urllib.request

    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=600) as r:
        body = json.loads(r.read())
    return time.perf_counter() - t, body


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


if __name__ == "__main__":
    main()
