"""Registering a model version from a run's output or a study's best trial, with its
lineage: one function for the CLI and the REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.errors import NotFoundError, UserError
from kiln.registry import models

if TYPE_CHECKING:
    from kiln.runtime import Runtime


def register_model(rt: Runtime, name: str, *, source: str | None = None,
                   study: str | None = None, alias: str | None = None,
                   by: str = "local") -> models.ModelVersion:
    if (source is None) == (study is None):
        raise UserError("register from a run's output or from a study, one of them",
                        where="source", hint="RUN/STEP/OUTPUT, or --study STUDY")
    if study is not None:
        source = _best_output(rt, study)
    assert source is not None
    run, step, output = models.check_source(source)
    ref, run_id, lineage = models.lineage_of_output(rt.catalog, run, step, output)
    return models.register(rt.catalog, name, ref, source=f"{run_id}/{step}/"
                           f"{lineage['output']}", run_id=run_id, lineage=lineage, by=by,
                           alias=alias)


def _best_output(rt: Runtime, study: str) -> str:
    """RUN/STEP/OUTPUT of the model the study's best trial made."""
    from kiln.catalog.runs import get_run
    from kiln.catalog.studies import get_study
    from kiln.serving.loading import model_outputs

    info = get_study(rt.catalog, study)
    best = info.best()
    if best is None or not best.run_id:
        raise NotFoundError(f"study '{study}' has no finished trial yet", where="--study")
    run = get_run(rt.catalog, best.run_id)
    found = model_outputs({t.step: t.outputs for t in run.tasks})
    if not found:
        raise NotFoundError(f"the best trial's run {run.id} stored no model", where="--study",
                            hint="register one of its outputs: RUN/STEP/OUTPUT")
    return f"{run.id}/{found[-1]}"
