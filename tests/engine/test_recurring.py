"""Recurring runs (kiln.engine.recurring): checked whole at creation, started by the
scheduler's tick when due, never more than max_concurrency at once, no catch-up storm after
downtime; over the CLI and REST too."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from kiln.catalog import runs as run_records
from kiln.catalog import schedules as records
from kiln.catalog.db import now
from kiln.catalog.schema import Schedule
from kiln.engine import launch, recurring, versions
from kiln.errors import NotFoundError, ParameterError, UserError
from kiln.runtime import Runtime
from tests.conftest import kiln_server, run_cli

MODULE = b'''
import time
import kiln

@kiln.step
def work(n: int, pause: float) -> int:
    time.sleep(pause)
    return n * 2

@kiln.pipeline(name="nightly")
def nightly(n: int = 1, pause: float = 0.0):
    work(n, pause)
'''


@pytest.fixture
def rt() -> Runtime:
    rt = Runtime.open()
    versions.upload(MODULE, "nightly.py", entry="nightly", rt=rt)
    return rt


def backdate(rt: Runtime, name: str, **delta: float) -> None:
    """As if the schedule was last started `delta` ago (the scheduler was down since)."""
    with rt.catalog.write() as s:
        s.execute(update(Schedule).where(Schedule.name == name).values(
            last_started_at=now() - timedelta(**delta),
            created_at=now() - timedelta(**delta)))


def wait_finished(rt: Runtime, run_id: str) -> str:
    status = launch.wait_for(run_id, timeout=120, rt=rt)
    assert status in run_records.FINISHED, f"run {run_id} did not finish"
    return status


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": "bad name!"}, UserError, "not a schedule name"),
    ({"every": None}, UserError, "either --every or --cron"),
    ({"cron": "0 * * * *"}, UserError, "either --every or --cron"),
    ({"every": "soon"}, UserError, "not an interval"),
    ({"every": None, "cron": "61 * * * *"}, UserError, "not a cron expression"),
    ({"pipeline": "nightyl"}, NotFoundError, "nightyl"),
    ({"version": 9}, NotFoundError, "no version 9"),
    ({"params": {"n": "many"}}, ParameterError, "n"),
    ({"params": {"m": 1}}, ParameterError, "m"),
    ({"max_concurrency": 0}, UserError, "max concurrency"),
])
def test_bad_schedules_are_refused_whole(rt, kwargs, error, match):
    args = {"name": "nightly-run", "pipeline": "nightly", "every": "1h", **kwargs}
    with pytest.raises(error, match=match):
        recurring.create(args.pop("name"), args.pop("pipeline"), rt=rt, **args)
    assert records.list_schedules(rt.catalog) == []


def test_a_name_is_used_once(rt):
    recurring.create("s", "nightly", every="1h", rt=rt)
    with pytest.raises(UserError, match="exists"):
        recurring.create("s", "nightly", cron="0 * * * *", rt=rt)


def test_due_schedule_starts_one_run_and_no_catch_up_after_downtime(rt):
    sch = recurring.create("hourly", "nightly", every="1h", params={"n": "4"}, rt=rt)
    assert recurring.tick(rt, log=lambda m: None) == []  # created just now: not due yet
    backdate(rt, "hourly", days=2)  # 48 slots missed while the scheduler was down
    started = recurring.tick(rt, log=lambda m: None)
    assert len(started) == 1
    assert recurring.tick(rt, log=lambda m: None) == []  # the next slot is an hour from now
    assert wait_finished(rt, started[0]) == "succeeded"
    run = run_records.get_run(rt.catalog, started[0])
    assert run.labels == {"schedule": "hourly"} and run.params["n"] == 4
    assert run.pipeline_version_id is not None
    sch = records.get_schedule(rt.catalog, "hourly")
    assert sch.last_run_id == started[0] and sch.last_error is None
    listed = run_records.list_runs(rt.catalog, filter_text="labels.schedule = hourly")
    assert [r.id for r in listed] == started


def test_max_concurrency_holds_the_next_run_until_one_ends(rt):
    recurring.create("busy", "nightly", every="1s", params={"pause": "4"}, rt=rt)
    backdate(rt, "busy", seconds=2)
    first = recurring.tick(rt, log=lambda m: None)
    assert len(first) == 1
    backdate(rt, "busy", seconds=2)
    assert recurring.running(rt, "busy") == 1
    assert recurring.tick(rt, log=lambda m: None) == []  # due, but its one run still runs
    wait_finished(rt, first[0])
    assert len(recurring.tick(rt, log=lambda m: None)) == 1  # fires once the run ended


def test_paused_schedules_wait_and_broken_ones_record_why(rt):
    recurring.create("p", "nightly", every="1m", rt=rt)
    records.set_paused(rt.catalog, "p", True)
    backdate(rt, "p", hours=1)
    assert recurring.tick(rt, log=lambda m: None) == []
    records.set_paused(rt.catalog, "p", False)
    from kiln.catalog.pipelines import delete_pipeline

    delete_pipeline(rt.catalog, "nightly")  # the schedule outlives its pipeline
    logged: list[str] = []
    assert recurring.tick(rt, log=logged.append) == []
    sch = records.get_schedule(rt.catalog, "p")
    assert "nightly" in (sch.last_error or "") and "could not start" in logged[0]
    assert recurring.tick(rt, log=logged.append) == []  # not retried at every poll
    assert len(logged) == 1


def test_cli_and_rest(rt):
    r = run_cli("schedule", "create", "cli-sched", "--pipeline", "nightly", "--cron",
                "0 3 * * *", "-p", "n=2")
    assert r.returncode == 0, r.stderr
    r = run_cli("schedule", "create", "x", "--pipeline", "nightly", "--every", "often")
    assert r.returncode != 0 and "not an interval" in r.stderr
    r = run_cli("schedule", "ls")
    assert "cli-sched" in r.stdout and "cron 0 3 * * *" in r.stdout
    assert run_cli("schedule", "pause", "cli-sched").returncode == 0
    assert records.get_schedule(rt.catalog, "cli-sched").paused
    r = run_cli("schedule", "rm", "cli-schd")
    assert r.returncode != 0 and "cli-sched" in r.stderr  # did you mean
    with kiln_server("--no-scheduler") as base, httpx.Client(base_url=f"{base}/api/v1") as c:
        r = c.post("/schedules", json={"name": "api", "pipeline": "nightly", "every": "2h",
                                       "params": {"n": 5}, "max_concurrency": 2})
        assert r.status_code == 201, r.text
        assert r.json()["every"] == 7200
        listed = {s["name"]: s for s in c.get("/schedules").json()}
        assert set(listed) == {"api", "cli-sched"}
        assert listed["cli-sched"]["next_at"] is None and listed["api"]["next_at"]
        bad = c.post("/schedules", json={"name": "b", "pipeline": "nightly", "every": "2h",
                                         "params": {"n": "x"}})
        assert bad.status_code == 400 and bad.json()["error"]["where"]
        assert c.post("/schedules", json={"name": "b"}).status_code == 422
        assert c.post("/schedules", json={"name": "b", "pipeline": "none",
                                          "every": "1h"}).status_code == 404
        assert c.patch("/schedules/api", json={"paused": True}).json()["paused"] is True
        assert c.delete("/schedules/api").status_code == 200
        assert c.get("/schedules/api").status_code == 404
