"""The one service manager: records, kinds apart, a dead process reads as exited, a missing
row is an error for every kind alike."""

from __future__ import annotations

import sys

import pytest

from kiln.errors import NotFoundError, UserError
from kiln.runtime import Runtime
from kiln.services import manager
from kiln.services.manager import Kind

MODEL = Kind("model-server", "service", b"kiln.serving.server", "kiln serve ls")
NOTEBOOK = Kind("notebook", "notebook server", b"jupyterlab", "kiln notebook ls")


def reserve(rt, kind, name, tmp_path):
    manager.reserve(rt, kind, name, config_json="{}", host="127.0.0.1", port=None,
                    log_path=tmp_path / f"{name}.log", stop_hint="stop it")


def test_kinds_share_the_table_but_not_their_names(tmp_path):
    rt = Runtime.open()
    reserve(rt, NOTEBOOK, "lab", tmp_path)
    assert [r.name for r in manager.list_records(rt, NOTEBOOK)] == ["lab"]
    assert manager.list_records(rt, MODEL) == []
    with pytest.raises(NotFoundError, match="no service named 'lab'"):
        manager.find(rt, MODEL, "lab")
    with pytest.raises(UserError, match="'lab' is the name of a notebook server"):
        reserve(rt, MODEL, "lab", tmp_path)


def test_a_dead_process_reads_as_exited_and_a_live_one_is_refused(tmp_path):
    rt = Runtime.open()
    reserve(rt, MODEL, "svc", tmp_path)
    proc = manager.launch([sys.executable, "-c", "import time; time.sleep(30)  # jupyterlab"],
                          env={}, log_path=tmp_path / "svc.log")
    manager.update(rt, "svc", pid=proc.pid, status="running")
    # the marker is not in this process's command line: a pid that is not ours is "exited"
    assert manager.find(rt, MODEL, "svc").status == "exited"
    reserve(rt, NOTEBOOK, "nb", tmp_path)
    manager.update(rt, "nb", pid=proc.pid, status="running")
    assert manager.find(rt, NOTEBOOK, "nb").status == "running"  # "jupyterlab" is in it
    with pytest.raises(UserError, match="already running"):
        reserve(rt, NOTEBOOK, "nb", tmp_path)
    stopped = manager.stop(rt, NOTEBOOK, "nb", timeout=5)
    assert stopped.status == "stopped"
    proc.wait(10)
    assert proc.returncode is not None


def test_a_missing_row_is_an_error_for_every_kind(tmp_path):
    rt = Runtime.open()
    with pytest.raises(NotFoundError):
        manager.update(rt, "ghost", status="running")
    for kind in (MODEL, NOTEBOOK):
        with pytest.raises(NotFoundError):
            manager.stop(rt, kind, "ghost")


def test_a_process_that_exits_at_start_fails_with_its_log(tmp_path):
    rt = Runtime.open()
    reserve(rt, MODEL, "bad", tmp_path)
    log = tmp_path / "bad.log"
    proc = manager.launch([sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                          env={}, log_path=log)
    with pytest.raises(UserError, match="exited at start \\(code 3\\)") as e:
        manager.wait_ready(rt, MODEL, "bad", proc, lambda: False, timeout=20, log_path=log)
    assert "boom" in e.value.hint
    assert manager.find(rt, MODEL, "bad").status == "failed"
