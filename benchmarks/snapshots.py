"""Volume snapshots vs restic, on the same generated data set (default 2.2 GB).

Data: 20,000 small JSON/CSV files (1-30 KB), 8 large numpy arrays (float32, partly smooth so
they compress somewhat) and 4 Parquet tables. Phases, each timed for both tools in one run:
  1. first snapshot            (`kiln snapshot create` vs `restic backup`)
  2. second snapshot after rewriting 1% of the small files and appending 16 MB to an array
  3. restore of the latest snapshot into an empty folder
and the bytes each repository holds. restic (Debian package) is installed if absent.
    python benchmarks/snapshots.py [--gb 2.2] [--repeats 3] [--keep]
Targets: our times / restic's <= 1.0, bytes stored within 10%, and the second snapshot adding
only about the changed bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import emit


def ensure_restic() -> str:
    found = shutil.which("restic")
    if found:
        return found
    print("installing restic (apt-get)...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "restic"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("restic") or "restic"


def generate(root: Path, gb: float, rng: np.random.Generator, files: int = 20_000) -> int:
    import pandas as pd

    small = root / "records"
    for i in range(files):
        d = small / f"part{i // 1000:02d}"
        d.mkdir(parents=True, exist_ok=True)
        n = int(rng.integers(10, 300))
        if i % 2:
            rows = [{"id": int(i * 1000 + j), "score": float(rng.random()),
                     "label": f"class-{int(rng.integers(0, 9))}"} for j in range(n)]
            (d / f"r{i:05d}.json").write_text(json.dumps(rows))
        else:
            vals = rng.random((n, 4))
            (d / f"r{i:05d}.csv").write_text(
                "a,b,c,d\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in vals))
    budget = int(gb * (1 << 30)) - _du(root)
    arrays = root / "arrays"
    arrays.mkdir()
    per_array = int(budget * 0.8 / 8) // 4
    for i in range(8):
        noise = rng.standard_normal(per_array, dtype=np.float32)
        if i % 2:  # a smooth signal with a little noise: compresses somewhat, like real data
            noise = (np.cumsum(noise) * 0.01).astype(np.float32).round(3)
        np.save(arrays / f"features{i}.npy", noise)
    tables = root / "tables"
    tables.mkdir()
    rows = int(budget * 0.2 / 4 / 24)
    for i in range(4):
        df = pd.DataFrame({"user": rng.integers(0, 1 << 40, rows),
                           "value": rng.standard_normal(rows),
                           "bucket": rng.integers(0, 1000, rows).astype("int64")})
        df.to_parquet(tables / f"events{i}.parquet")
    return _du(root)


def mutate(root: Path, rng: np.random.Generator) -> int:
    """Rewrite 1% of the small files (at least one) and append 16 MB (at most a quarter of
    its size) to one array; returns bytes changed."""
    files = sorted((root / "records").rglob("*.*"))
    changed = 0
    for p in rng.choice(files, size=max(1, len(files) // 100), replace=False):
        data = Path(p).read_bytes()
        Path(p).write_bytes(data[: len(data) // 2] + b"\n#edited\n" + data[len(data) // 2:])
        changed += len(data)
    floats = min(4 << 20, (root / "arrays" / "features0.npy").stat().st_size // 16)
    extra = rng.standard_normal(floats, dtype=np.float32).tobytes()
    with open(root / "arrays" / "features0.npy", "ab") as f:
        f.write(extra)
    return changed + len(extra)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t


def drop_caches() -> None:
    """Start each phase with cold data where we may (root only); both tools see the same."""
    subprocess.run(["sync"])
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("large", "small", "tiny"), default="large",
                    help="large: 2.2 GB, 20,000 small files; small: 0.25 GB, 2,000 small files "
                         "(per-command fixed costs decide it); tiny: 10 MB, 20 small files "
                         "(only the fixed costs)")
    ap.add_argument("--gb", type=float, default=None, help="override the set's size")
    ap.add_argument("--repeats", type=int, default=1,
                    help="rounds, each with fresh repositories; medians are printed")
    ap.add_argument("--keep", action="store_true", help="keep the data and repositories")
    args = ap.parse_args()
    restic = ensure_restic()
    work = Path(tempfile.mkdtemp(prefix="kiln-snapbench-", dir=os.environ.get("BENCH_DIR")))
    data = work / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    gb = args.gb or {"large": 2.2, "small": 0.25, "tiny": 0.01}[args.set]
    size = generate(data, gb, rng, {"large": 20_000, "small": 2_000, "tiny": 20}[args.set])
    print("what each side does: restic encrypts (AES-256) and authenticates every blob, and "
          "fsyncs its files; kilnflow neither encrypts nor authenticates, and fsyncs every pack "
          "and index file and their folders (KILN_UNSAFE_NO_FSYNC "
          f"{'set: NO fsync' if os.environ.get('KILN_UNSAFE_NO_FSYNC') == '1' else 'unset'}); "
          "both compress (zstd); page cache dropped before every command", flush=True)
    print(f"data set: {size / (1 << 30):.2f} GiB, "
          f"{sum(1 for p in data.rglob('*') if p.is_file())} files "
          f"(generated in {time.perf_counter() - t:.0f}s)", flush=True)
    kiln = [sys.executable, "-m", "kiln.cli"]
    # Time kilnflow as `pip install` leaves it: with bytecode compiled. An editable install
    # under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every command.
    import kiln as kiln_pkg
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(kiln_pkg.__file__).parent)],
                   check=True)
    times: dict[str, list[tuple[float, float]]] = {}
    for rnd in range(1, args.repeats + 1):
        home, rrepo = work / f"kiln-home-{rnd}", work / f"restic-repo-{rnd}"
        kenv = {**os.environ, "KILN_HOME": str(home)}
        kenv.pop("KILN_STORE", None)
        renv = {**os.environ, "RESTIC_REPOSITORY": str(rrepo), "RESTIC_PASSWORD": "bench",
                "RESTIC_CACHE_DIR": str(work / f"restic-cache-{rnd}")}
        subprocess.run([*kiln, "volume", "create", "bench", "--path", str(data)], env=kenv,
                       check=True, capture_output=True)
        subprocess.run([restic, "init", "--repository-version", "2"], env=renv, check=True,
                       capture_output=True)

        def phase(name: str, ours: list[str], theirs: list[str], renv: dict[str, str] = renv,
                  kenv: dict[str, str] = kenv, rnd: int = rnd) -> None:
            drop_caches()
            r = timed(theirs, renv)
            drop_caches()
            k = timed(ours, kenv)
            times.setdefault(name, []).append((k, r))
            print(f"[{rnd}] {name:<16} kilnflow {k:7.2f}s   restic {r:7.2f}s   "
                  f"ratio {k / r:.2f}", flush=True)
            emit("snapshots", f"{gb:g} GB: {name} (round {rnd})", k, r, "s",
                 "vs restic (which also encrypts); both fsync; cold page cache")

        phase("first snapshot", [*kiln, "snapshot", "create", "bench", "-m", "first"],
              [restic, "backup", "--compression", "auto", "--host", "bench", str(data)])
        stored_1 = _du(home / "store")
        changed = mutate(data, rng)
        phase("second snapshot", [*kiln, "snapshot", "create", "bench", "-m", "second"],
              [restic, "backup", "--compression", "auto", "--host", "bench", str(data)])
        added = _du(home / "store") - stored_1
        phase("unchanged again", [*kiln, "snapshot", "create", "bench", "-m", "third"],
              [restic, "backup", "--compression", "auto", "--host", "bench", str(data)])
        out_k, out_r = work / f"out-kiln-{rnd}", work / f"out-restic-{rnd}"
        phase("restore latest", [*kiln, "snapshot", "restore", "bench:latest", "--to",
                                 str(out_k)],
              [restic, "restore", "latest", "--target", str(out_r)])
        ours, theirs = _du(home / "store"), _du(rrepo)
        diff = subprocess.run(["diff", "-rq", str(data), str(out_k)], capture_output=True,
                              text=True)
        print(f"[{rnd}] bytes stored     kilnflow {ours / 1e6:8.1f} MB  restic "
              f"{theirs / 1e6:8.1f} MB  ratio {ours / theirs:.3f}")
        print(f"[{rnd}] second snapshot  changed {changed / 1e6:.1f} MB of data, "
              f"kilnflow stored {added / 1e6:.1f} MB more")
        same = "yes" if not diff.stdout else "NO: " + diff.stdout[:300]
        print(f"[{rnd}] restore identical {same}",
              flush=True)
        shutil.rmtree(out_k, ignore_errors=True)
        shutil.rmtree(out_r, ignore_errors=True)
    if args.repeats > 1:
        for name, pairs in times.items():
            k = statistics.median(p[0] for p in pairs)
            r = statistics.median(p[1] for p in pairs)
            ratios = ", ".join(f"{a / b:.2f}" for a, b in pairs)
            print(f"median {name:<16} kilnflow {k:7.2f}s   restic {r:7.2f}s   ratio {k / r:.2f}"
                  f"   (per round: {ratios})")
    print(f"machine            {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, "
          f"{subprocess.run([restic, 'version'], capture_output=True, text=True).stdout.strip()}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
