from __future__ import annotations

import os
import subprocess
import sys

import kiln
from kiln.catalog.runs import list_runs
from kiln.runtime import Runtime

PIPE = '''
import kiln

@kiln.step
def make(n: int, salt: int) -> list:
    return [n] * 1000

@kiln.step
def total(xs: list) -> int:
    kiln.log_metric("total", sum(xs))
    return sum(xs)

@kiln.pipeline
def p(n: int = 1, salt: int = 0):
    total(make(n, salt))
'''


def test_several_runs_from_several_processes_share_one_home(module, kiln_home):
    path = module(PIPE)
    env = {**os.environ, "KILN_HOME": str(kiln_home)}
    procs = [subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", str(path), "-q",
                               "-p", f"n={i % 3}", "-p", f"salt={i}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, out + err
    runs = list_runs(Runtime.open().catalog, limit=100)
    assert len(runs) == 6 and {r.status for r in runs} == {"succeeded"}
    assert sorted(r.metrics["total"] for r in runs) == [0, 0, 1000, 1000, 2000, 2000]
    for r in runs:
        full = kiln.get_run(r.id)
        assert full.output("total") == full.metrics["total"]
