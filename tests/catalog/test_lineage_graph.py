"""Lineage walks on a generated graph, checked against a plain breadth-first search in Python.

The graph is written straight into the catalog's tables (runs would take minutes for this
shape): a random DAG of tasks, each writing a few artifacts and reading some written earlier,
so there are chains, fan-out, fan-in and diamonds.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime

import pytest
from sqlalchemy import insert

from kiln.catalog.lineage import lineage
from kiln.catalog.schema import Artifact, Event, Experiment, Run, Task
from kiln.errors import NotFoundError
from kiln.runtime import Runtime

N_TASKS = 120


@pytest.fixture
def graph() -> tuple[Runtime, list[tuple[int, int, str]]]:
    rng = random.Random(7)
    rt = Runtime.open()
    t0 = datetime(2026, 1, 1)
    events: list[tuple[int, int, str]] = []
    arts: list[int] = []
    next_art = 1
    for tid in range(1, N_TASKS + 1):
        for aid in rng.sample(arts, k=min(len(arts), rng.randint(0, 3))):
            events.append((tid, aid, "input"))
        for _ in range(rng.randint(1, 3)):
            events.append((tid, next_art, "output"))
            arts.append(next_art)
            next_art += 1
    with rt.catalog.write() as s:
        s.execute(insert(Experiment), [{"id": 1, "name": "g", "created_at": t0}])
        s.execute(insert(Run), [{"id": f"{tid:016x}", "experiment_id": 1, "pipeline_name": "g",
                                 "status": "succeeded", "created_at": t0, "spec_json": "{}",
                                 "spec_digest": "0" * 64, "source": "", "host": "h",
                                 "archived": 0} for tid in range(1, N_TASKS + 1)])
        s.execute(insert(Task), [{"id": tid, "run_id": f"{tid:016x}", "step": "s",
                                  "status": "succeeded", "attempts": 1}
                                 for tid in range(1, N_TASKS + 1)])
        s.execute(insert(Artifact), [{"id": a, "digest": f"{a:064x}", "size": 1, "codec": "c",
                                      "codec_version": 1, "type_name": "t", "created_at": t0}
                                     for a in arts])
        s.execute(insert(Event), [{"task_id": t, "artifact_id": a, "kind": k, "name": f"x{a}"}
                                  for t, a, k in events])
    return rt, events


def reference(events: list[tuple[int, int, str]], tasks: set[int], arts: set[int],
              depth: int) -> tuple[set[int], set[tuple[str, str]]]:
    """Tasks within `depth` task hops up and down, and the edges the walk crosses."""
    writers, readers = defaultdict(set), defaultdict(set)
    reads, writes = defaultdict(set), defaultdict(set)
    for t, a, k in events:
        (writers if k == "output" else readers)[a].add(t)
        (writes if k == "output" else reads)[t].add(a)
    all_tasks: set[int] = set()
    edges: set[tuple[str, str]] = set()
    for up in (True, False):
        frontier = set(tasks) | {t for a in arts for t in (writers if up else readers)[a]}
        reached = set(frontier)
        for _ in range(depth):
            frontier = {n for t in frontier for a in (reads if up else writes)[t]
                        for n in (writers if up else readers)[a]} - reached
            reached |= frontier
        all_tasks |= reached
        for t in reached:
            for a in (reads if up else writes)[t]:
                edges.add((f"a{a}", f"t{t}") if up else (f"t{t}", f"a{a}"))
        kept = set(arts) | {a for t in reached for a in (reads if up else writes)[t]}
        for t in reached:
            for a in (writes if up else reads)[t] & kept:
                edges.add((f"t{t}", f"a{a}") if up else (f"a{a}", f"t{t}"))
    return all_tasks, edges


@pytest.mark.parametrize("depth", [1, 2, 5, 50])
def test_walk_from_a_run_matches_breadth_first_search(graph, depth):
    rt, events = graph
    for tid in (1, 40, 77, N_TASKS):
        got = lineage(rt.catalog, f"{tid:016x}", depth=depth)
        tasks, edges = reference(events, {tid}, set(), depth)
        assert set(got.tasks) == tasks
        assert got.edges == edges
        assert all(v["run"] == f"{k:016x}" for k, v in got.tasks.items())


def test_walk_from_an_artifact_digest(graph):
    rt, events = graph
    aid = next(a for t, a, k in events if k == "output" and t == 60)
    got = lineage(rt.catalog, f"{aid:064x}")
    tasks, edges = reference(events, set(), {aid}, 50)
    assert set(got.tasks) == tasks and got.edges == edges
    assert got.artifacts[aid]["digest"] == f"{aid:064x}"


def test_prefix_characters_are_not_wildcards(graph):
    rt, _ = graph
    with pytest.raises(NotFoundError, match="neither a run"):
        lineage(rt.catalog, "%%%%%%%")
    with pytest.raises(NotFoundError, match="neither a run"):
        lineage(rt.catalog, "______")
