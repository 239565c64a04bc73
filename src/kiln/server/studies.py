"""Tuning studies and AutoML searches over REST: the same records as `kiln tune ls|show`
(kiln.catalog.studies), with what the study page draws (each trial's objective, the running
best, the space searched) and the models the best trial's run can serve."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from kiln.catalog import studies as records
from kiln.runtime import Runtime
from kiln.server.deps import FastJSON, runtime

router = APIRouter(tags=["studies"])


def _summary(st: records.StudyInfo) -> dict[str, Any]:
    out = st.to_dict(with_trials=False)  # a list needs no trial rows
    out.pop("config")
    out["budget"] = st.config.get("maxTrialCount")
    out["parallel"] = st.config.get("parallelTrialCount")
    out["metric"] = st.metric
    out["direction"] = st.direction
    return out


def _trial(t: records.TrialInfo) -> dict[str, Any]:
    out = t.to_dict()
    # A pruned (or failed) trial's last reported value is what it was judged on.
    out["last_reported"] = t.intermediate[-1][1] if t.intermediate else None
    return out


@router.get("/studies", response_class=FastJSON)
def list_studies(limit: int = Query(50, ge=1, le=500),
                 kind: Literal["tune", "automl"] | None = None,
                 rt: Runtime = Depends(runtime)) -> Any:
    """Newest first: state, trial counts by state, budget and the best value so far."""
    return FastJSON({"studies": [_summary(st) for st in
                                 records.list_studies(rt.catalog, limit=limit, kind=kind)]})


@router.get("/studies/{ref}", response_class=FastJSON)
def get_study(ref: str, rt: Runtime = Depends(runtime)) -> Any:
    """One study (by name, id, id prefix or 'latest') with its trials and the space searched;
    `best.models` are the best run's outputs `kiln serve RUN/STEP/OUTPUT` can load."""
    from kiln.serving.loading import models_of_run

    st = records.get_study(rt.catalog, ref)
    out = _summary(st)
    out["parameters"] = st.config.get("parameters", [])
    out["trials"] = [_trial(t) for t in st.trials]
    best = st.best()
    if out["best"] is not None and best is not None:
        out["best"]["models"] = models_of_run(rt.catalog, best.run_id)
    return FastJSON(out)


@router.get("/studies/{ref}/trials", response_class=FastJSON)
def study_trials(ref: str, rt: Runtime = Depends(runtime)) -> Any:
    st = records.get_study(rt.catalog, ref)
    return FastJSON({"study": st.name, "trials": [_trial(t) for t in st.trials]})
