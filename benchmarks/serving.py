"""Serving throughput and latency: `kiln serve` vs MLServer, same model, same load generator.

One scikit-learn model (LogisticRegression, 20 features) saved as model.joblib, served by
    - kilnflow: `kiln serve model.joblib --workers W`
    - MLServer 1.7 + mlserver-sklearn (in its own venv: its pins clash with ours),
      at each worker count the best of its inference-pool settings (parallel_workers in
      {0, 1, 2} and the worker count), chosen per concurrency
and loaded by wrk (Debian package, installed if absent) with V2 JSON bodies of one row at
several concurrencies. Prints requests/s, p50/p99 and the ratios.

    python benchmarks/serving.py [--duration 10] [--concurrency 1,8,32] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _report import emit

HERE = Path(__file__).parent
VENV = HERE / ".data" / "mlserver-venv"
# uvloop 0.22+ breaks MLServer 1.7's worker pool ("no current event loop"); 0.21 was current
# when MLServer 1.7.1 was released.
MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0"]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def ensure_mlserver() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("creating a venv for MLServer...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *MLSERVER_PINS], check=True)
    return VENV / "bin" / "mlserver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_model(folder: Path) -> tuple[Path, list[float]]:
    import joblib
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    return path, [float(v) for v in np.round(X[0], 6)]


def body(row: list[float]) -> str:
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(row)],
                                   "datatype": "FP64", "data": row}]})


LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def load(wrk: str, url: str, body_text: str, conns: int, duration: int,
         tmp: Path) -> dict[str, float]:
    script = tmp / "post.lua"
    script.write_text(LUA % body_text)
    out = subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{duration}s", "--latency",
                          "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
        return float(m.group(1)) * scale

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests against {url}:\n{out}")
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99")}


def run_kiln(model: Path, workers: int, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KILN_HOME=str(tmp / "kiln-home"))
    return subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", str(model), "--name", "m",
                             "--port", str(port), "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_mlserver(binary: Path, model: Path, parallel: int, port: int,
                 tmp: Path) -> subprocess.Popen[bytes]:
    folder = tmp / f"mlserver-{parallel}"
    (folder / "m").mkdir(parents=True, exist_ok=True)
    shutil.copy(model, folder / "m" / "model.joblib")
    (folder / "m" / "model-settings.json").write_text(json.dumps({
        "name": "m", "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"}}))
    (folder / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "parallel_workers": parallel, "host": "127.0.0.1", "debug": False,
        "metrics_endpoint": None}))
    return subprocess.Popen([str(binary), "start", str(folder)], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    wrk = ensure_wrk()
    mlserver = ensure_mlserver()
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model, row = make_model(tmp)
        text = body(row)
        for workers in worker_counts:
            systems = [("kilnflow", None)]
            # MLServer's inference pool: 0 runs the model in the HTTP process; N uses N
            # worker processes. Its best setting is searched at every worker count, over
            # {0, 1, 2} and the count itself, and the best one per concurrency is reported.
            systems += [("mlserver", p) for p in sorted({0, 1, 2, workers})]
            for system, parallel in systems:
                port = free_port()
                proc = (run_kiln(model, workers, port, tmp) if system == "kilnflow"
                        else run_mlserver(mlserver, model, int(parallel or 0), port, tmp))
                try:
                    wait_ready(f"http://127.0.0.1:{port}/v2/models/m/ready", proc)
                    url = f"http://127.0.0.1:{port}/v2/models/m/infer"
                    load(wrk, url, text, 4, 2, tmp)  # warm up
                    for c in concurrencies:
                        r = load(wrk, url, text, c, args.duration, tmp)
                        r.update(system=system, workers=workers, parallel=parallel,
                                 concurrency=c)
                        results.append(r)
                        print(f"{system:9} workers={workers} parallel={parallel} c={c:3}: "
                              f"{r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                              f"p99 {r['p99_ms']:.2f} ms", flush=True)
                finally:
                    stop(proc)
    print()
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {datetime.date.today()}")
    print("| workers | concurrency | kilnflow req/s | MLServer req/s (best) | ratio | "
          "kilnflow p99 ms | MLServer p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for workers in worker_counts:
        for c in concurrencies:
            ours = next(r for r in results if r["system"] == "kilnflow"
                        and r["workers"] == workers and r["concurrency"] == c)
            theirs = max((r for r in results if r["system"] == "mlserver"
                          and r["workers"] == workers and r["concurrency"] == c),
                         key=lambda r: r["rps"])
            print(f"| {workers} | {c} | {ours['rps']:.0f} | {theirs['rps']:.0f} "
                  f"(parallel_workers={theirs['parallel']}) | "
                  f"{float(ours['rps']) / float(theirs['rps']):.2f}× | {ours['p99_ms']:.2f} | "
                  f"{theirs['p99_ms']:.2f} |")
            emit("serving", f"{workers} worker(s), concurrency {c}", float(ours["rps"]),
                 float(theirs["rps"]), "req/s", f"vs MLServer at its best "
                 f"(parallel_workers={theirs['parallel']})", lower_is_better=False)


if __name__ == "__main__":
    main()
