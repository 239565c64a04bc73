"""A run whose process died is failed as interrupted the next time anything reads it, and a
pid that now belongs to another process is never signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import kiln
from kiln.catalog import runs as records
from kiln.engine import launch
from kiln.runtime import Runtime
from tests.conftest import run_cli

SLEEPY = '''
import kiln

@kiln.step
def nap() -> int:
    import time
    time.sleep(120)
    return 1

@kiln.pipeline
def sleepy():
    nap()
'''


def wait_running(timeout: float = 60) -> str:
    rt = Runtime.open()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = records.list_runs(rt.catalog, limit=1)
        if runs and runs[0].status == "running":
            return runs[0].id
        time.sleep(0.2)
    raise AssertionError("the run never started")


def test_a_killed_run_reads_as_failed_interrupted(module):
    path = module(SLEEPY, "sleepy_mod")
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", f"{path}:sleepy", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    run_id = wait_running()
    os.killpg(proc.pid, signal.SIGKILL)  # the engine and its step, as a crash would
    proc.wait(30)
    run = kiln.get_run(run_id)
    assert run.status == "failed" and "interrupted" in (run.error or "")
    assert all(t.status != "running" for t in run.info.tasks)
    shown = run_cli("runs", "ls", "--json")
    assert '"failed"' in shown.stdout and '"running"' not in shown.stdout


def test_a_reused_pid_is_not_the_runs_and_is_never_signalled():
    rt = Runtime.open()
    run_id, _ = records.create_run(rt.catalog, pipeline="p", experiment=None, spec_json="{}",
                                   spec_digest="0" * 64, source="", params={}, steps=["a"])
    time.sleep(2.5)  # a process that starts later cannot be the one that created the run
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with rt.catalog.write() as s:
            from kiln.catalog.schema import Run

            s.get(Run, run_id).pid = other.pid  # the recorded pid was reused by `other`
        status = None
        try:
            status = launch.cancel(run_id, rt=rt)
        except kiln.UserError as e:
            assert "already failed" in e.message
        assert status is None
        assert other.poll() is None  # never signalled
        assert kiln.get_run(run_id).status == "failed"
    finally:
        other.kill()
        other.wait()


BIG = '''
import kiln
import numpy as np

@kiln.step
def make() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, 96 << 20, dtype=np.uint8)

@kiln.step
def use(a: np.ndarray) -> int:
    import time
    time.sleep(60)
    return int(a[0])

@kiln.pipeline
def big():
    use(make())
'''


def test_a_step_is_recorded_succeeded_only_once_its_outputs_are_in_the_store(module):
    """kill -9 the instant the catalog says a step succeeded: its output must be in the store
    (the store then checks clean), which a record written before the background store write
    finished could not promise."""
    path = module(BIG, "big_mod")
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", f"{path}:big", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    rt = Runtime.open()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = records.list_runs(rt.catalog, limit=1)
            if runs:
                info = records.get_run(rt.catalog, runs[0].id, with_events=False)
                if any(t.step == "make" and t.status == "succeeded" for t in info.tasks):
                    break
            time.sleep(0.01)
        else:
            raise AssertionError("step make never succeeded")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    r = run_cli("store", "check")
    assert r.returncode == 0, r.stdout + r.stderr
