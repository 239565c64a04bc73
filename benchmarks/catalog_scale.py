"""Run search at scale: kilnflow's REST API against MLflow's search_runs on the same runs.

Seeds 10,000 runs (10 parameters and 10 metrics each) and 100,000 artifacts (ten outputs per
run, each run reading one output of the run before it, so lineage has depth) into a fresh
kilnflow catalog, and the same runs into a fresh MLflow SQLite tracking store. Then times, over
HTTP from a real `kiln server`:

  list     GET /api/v1/runs?limit=50                       (newest first)
  filter   GET /api/v1/runs?filter=metrics.m0 > 0.5 and params.p1 = 3&limit=50
  sorted   GET /api/v1/runs?filter=metrics.m0 > 0.5&sort=-metrics.m1&limit=50
  lineage  GET /api/v1/lineage/RUN                          (a run 100 deep in the chain)

then the same through the Python API in-process (`kiln.search_runs`, `kiln.lineage`), and
in-process, MLflow's `search_runs` (which builds a pandas DataFrame) and
`MlflowClient().search_runs` (Run objects, no DataFrame) with the same list / filter / sorted
queries (MLflow
runs in its own venv under ~/.cache/kiln-bench, because its pins are not ours). Finally the
dashboard's run list is opened in headless chromium and the time to its first rows measured.

Both catalogs are seeded with bulk SQL inserts (the API would take hours for 10,000 runs);
MLflow's schema is created by MLflow itself first.

    python benchmarks/catalog_scale.py [--runs 10000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _report import emit

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = Path.home() / ".cache" / "kiln-bench" / "mlflow"


def seed_kiln(home: Path, n_runs: int, rng: random.Random) -> list[str]:
    os.environ["KILN_HOME"] = str(home)
    from sqlalchemy import insert

    from kiln.catalog.schema import Artifact, Event, Experiment, Metric, Run, RunParam, Task
    from kiln.runtime import Runtime

    rt = Runtime.open()
    t0 = datetime(2026, 1, 1)
    run_ids = [f"{i:011x}{rng.getrandbits(20):05x}" for i in range(1, n_runs + 1)]
    with rt.catalog.write() as s:
        s.execute(insert(Experiment), [{"id": 1, "name": "scale", "created_at": t0}])
        runs, params, metrics, tasks, arts, events = [], [], [], [], [], []
        for i, rid in enumerate(run_ids):
            created = t0 + timedelta(seconds=i * 30)
            runs.append({"id": rid, "experiment_id": 1, "pipeline_name": "scale",
                         "status": "succeeded" if i % 17 else "failed", "created_at": created,
                         "finished_at": created + timedelta(seconds=20), "spec_json": "{}",
                         "spec_digest": "0" * 64, "source": "", "host": "bench", "archived": 0})
            for p in range(10):
                params.append({"run_id": rid, "name": f"p{p}", "type": "int",
                               "value": rng.randint(0, 9)})
            for m in range(10):
                metrics.append({"id": i * 10 + m + 1, "run_id": rid, "task_id": i + 1,
                                "name": f"m{m}", "value": rng.random(), "created_at": created})
            tasks.append({"id": i + 1, "run_id": rid, "step": "train", "status": "succeeded",
                          "attempts": 1, "started_at": created, "finished_at": created})
            for a in range(10):
                aid = i * 10 + a + 1
                arts.append({"id": aid, "digest": f"{aid:064x}", "size": 1000, "codec": "pickle",
                             "codec_version": 1, "type_name": "object", "created_at": created})
                events.append({"task_id": i + 1, "artifact_id": aid, "kind": "output",
                               "name": f"out{a}"})
            if i:
                events.append({"task_id": i + 1, "artifact_id": (i - 1) * 10 + 1,
                               "kind": "input", "name": "previous"})
        for table, rows in ((Run, runs), (RunParam, params), (Task, tasks), (Metric, metrics),
                            (Artifact, arts), (Event, events)):
            s.execute(insert(table), rows)
    return run_ids


def mlflow_python() -> Path:
    py = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "mlflow-skinny>=2.10",
                        "sqlalchemy>=2", "alembic>=1.13", "numpy", "pandas"], check=True)
        (MLFLOW_VENV / ".complete").touch()
    return py


MLFLOW_SEED = r'''
import json, os, random, sqlite3, statistics, sys, time
import mlflow
from mlflow.tracking import MlflowClient

db, n_runs, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uri = f"sqlite:///{db}"
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
exp = client.create_experiment("scale")          # MLflow creates its own schema here
con = sqlite3.connect(db)
rng = random.Random(1)
t0 = 1767225600000
runs, params, metrics, latest = [], [], [], []
for i in range(n_runs):
    rid = f"{i:032x}"
    start = t0 + i * 30000
    runs.append((rid, f"run{i}", "UNKNOWN", "", "", "bench", "FINISHED" if i % 17 else "FAILED",
                 start, start + 20000, "", "active", f"file:///tmp/{rid}", int(exp)))
    for p in range(10):
        params.append((f"p{p}", str(rng.randint(0, 9)), rid))
    for m in range(10):
        v = rng.random()
        metrics.append((f"m{m}", v, start, rid, 0, 0))
        latest.append((f"m{m}", v, start, 0, 0, rid))
con.executemany("insert into runs (run_uuid, name, source_type, source_name, entry_point_name,"
                " user_id, status, start_time, end_time, source_version, lifecycle_stage,"
                " artifact_uri, experiment_id) values (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
con.executemany("insert into params (key, value, run_uuid) values (?,?,?)", params)
con.executemany("insert into metrics (key, value, timestamp, run_uuid, step, is_nan)"
                " values (?,?,?,?,?,?)", metrics)
con.executemany("insert into latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                " values (?,?,?,?,?,?)", latest)
con.commit()
con.close()
'''

# Searched in a fresh process, as ours is, so neither side pays for the seeding's garbage.
MLFLOW_SEARCH = r'''
import json, sys, time
import mlflow

db, repeats = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(f"sqlite:///{db}")
exp = mlflow.get_experiment_by_name("scale").experiment_id
queries = {
    "list": dict(),
    "filter": dict(filter_string="metrics.m0 > 0.5 and params.p1 = '3'"),
    "sorted": dict(filter_string="metrics.m0 > 0.5", order_by=["metrics.m1 DESC"]),
}
from mlflow.tracking import MlflowClient
client = MlflowClient()
out = {}
for name, q in queries.items():
    mlflow.search_runs(experiment_ids=[exp], max_results=50, **q)  # warm, as ours is
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        df = mlflow.search_runs(experiment_ids=[exp], max_results=50, **q)
        times.append(time.perf_counter() - t)
    # the client's own call: Run objects, no pandas DataFrame built
    client.search_runs([exp], max_results=50, **q)
    client_times = []
    for _ in range(repeats):
        t = time.perf_counter()
        got = client.search_runs([exp], max_results=50, **q)
        client_times.append(time.perf_counter() - t)
    out[name] = {"times": times, "rows": len(df), "client": client_times,
                 "client_rows": len(got)}
print(json.dumps(out))
'''


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def start_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "server", "--port", str(port),
                             "--no-scheduler"], env={**os.environ, "KILN_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/api/v1/health").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("kiln server did not start")


def time_browser(base: str) -> float | None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = b.new_page()
        page.goto(f"{base}/static/app.css")  # the browser itself is warm; the page is not
        times = []
        for _ in range(5):
            t = time.perf_counter()
            page.goto(f"{base}/#/runs")
            page.locator("table.runs tbody tr").first.wait_for()
            times.append(time.perf_counter() - t)
            page.goto("about:blank")
        b.close()
    return statistics.median(times)


KILN_SCRIPT = """
import json, sys, time
import kiln
queries, deep, repeats = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
out = {}
for name, q in queries.items():
    kiln.search_runs(q.get("filter"), sort=q.get("sort"), limit=50)  # warm
    out[name] = []
    for _ in range(repeats):
        t = time.perf_counter()
        kiln.search_runs(q.get("filter"), sort=q.get("sort"), limit=50)
        out[name].append(time.perf_counter() - t)
kiln.lineage(deep)
out["lineage"] = []
for _ in range(repeats):
    t = time.perf_counter()
    kiln.lineage(deep)
    out["lineage"].append(time.perf_counter() - t)
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiln-catalog-scale-"))
    rng = random.Random(0)
    t = time.perf_counter()
    run_ids = seed_kiln(work / "home", args.runs, rng)
    print(f"seeded kilnflow: {args.runs} runs, {args.runs * 10} artifacts "
          f"in {time.perf_counter() - t:.1f}s", flush=True)
    proc, base = start_server(work / "home")
    deep = run_ids[len(run_ids) // 2]
    queries = {
        "list": {},
        "filter": {"filter": "metrics.m0 > 0.5 and params.p1 = 3"},
        "sorted": {"filter": "metrics.m0 > 0.5", "sort": "-metrics.m1"},
    }
    ours: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=f"{base}/api/v1", timeout=60) as c:
            for name, q in queries.items():
                c.get("/runs", params={**q, "limit": 50}).raise_for_status()  # warm
                ours[name] = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    r = c.get("/runs", params={**q, "limit": 50})
                    ours[name].append(time.perf_counter() - t)
                    r.raise_for_status()
            ours["lineage"] = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                r = c.get(f"/lineage/{deep}")
                ours["lineage"].append(time.perf_counter() - t)
                r.raise_for_status()
            lin = r.json()
        first_rows = time_browser(base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # The same queries through the Python API in a fresh process: like for like with MLflow's
    # in-process search_runs (no HTTP on either side; neither process did the seeding).
    r = subprocess.run([sys.executable, "-c", KILN_SCRIPT, json.dumps(queries), deep,
                        str(args.repeats)], capture_output=True, text=True,
                       env={**os.environ, "KILN_HOME": str(work / "home")})
    if r.returncode:
        raise SystemExit(f"in-process kilnflow side failed:\n{r.stderr[-3000:]}")
    inproc = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"lineage of a run in the middle of the chain: {len(lin['tasks'])} tasks, "
          f"{len(lin['artifacts'])} artifacts, {len(lin['edges'])} edges", flush=True)
    py = mlflow_python()
    r = subprocess.run([str(py), "-c", MLFLOW_SEED, str(work / "mlflow.db"), str(args.runs),
                        str(args.repeats)], capture_output=True, text=True)
    if not r.returncode:
        r = subprocess.run([str(py), "-c", MLFLOW_SEARCH, str(work / "mlflow.db"),
                            str(args.repeats)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"MLflow side failed:\n{r.stderr[-3000:]}")
    theirs = json.loads(r.stdout.strip().splitlines()[-1])
    mlflow_version = subprocess.run([str(py), "-c", "import mlflow; print(mlflow.__version__)"],
                                    capture_output=True, text=True).stdout.strip()
    for title, mine in (("REST API over HTTP (kiln server)", ours),
                        ("Python API in-process (kiln.search_runs / kiln.lineage)", inproc)):
        print(f"\n{title}\n{'query':<9} {'kilnflow p50':>13} {'p95':>9} {'MLflow p50':>12} "
              f"{'p95':>9} {'MLflow/kiln p50':>16} {'p95':>6} {'MlflowClient p50':>17} "
              f"{'client/kiln p50':>16}")
        for name in ("list", "filter", "sorted", "lineage"):
            k = mine[name]
            line = f"{name:<9} {statistics.median(k) * 1000:>10.1f} ms {p95(k) * 1000:>6.1f} ms"
            if name in theirs:
                m = theirs[name]["times"]
                line += (f" {statistics.median(m) * 1000:>9.1f} ms {p95(m) * 1000:>6.1f} ms "
                         f"{statistics.median(m) / statistics.median(k):>15.1f}x "
                         f"{p95(m) / p95(k):>5.1f}x")
                c = theirs[name]["client"]
                line += (f" {statistics.median(c) * 1000:>14.1f} ms "
                         f"{statistics.median(c) / statistics.median(k):>15.1f}x")
                emit("catalog", f"{args.runs} runs, {name}: {title.split(' (')[0]}",
                     statistics.median(k) * 1000, statistics.median(c) * 1000, "ms p50",
                     "vs MlflowClient().search_runs (no DataFrame), in-process")
            print(line)
    if first_rows is not None:
        print(f"run list page, first rows in chromium: {first_rows * 1000:.0f} ms (median of 5)")
    else:
        print("run list page: skipped (needs playwright and Debian's chromium)")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"MLflow {mlflow_version}, {datetime.now(UTC):%Y-%m-%d}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
