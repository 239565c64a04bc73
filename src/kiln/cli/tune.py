"""`kiln tune`: hyperparameter studies whose trials are pipeline runs; `ls`, `show`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from kiln.cli import output, status
from kiln.cli.groups import default_to
from kiln.cli.options import VOLUME_HELP, volume_bindings

tune_app = typer.Typer(
    cls=default_to("start"),
    help="Tune a pipeline's parameters (Katib's algorithms, Optuna underneath): "
         "`kiln tune PATH` starts a study; every trial is a pipeline run.",
    no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tune_app, name="tune")


@tune_app.command("start")
def start(
    target: str = typer.Argument(None, help="A notebook, module.py:pipeline or spec file "
                                            "(omit with --resume)."),
    config: Path = typer.Option(None, "--config", "-c",
                                help="YAML/JSON with katib_metadata's shape or a Katib "
                                     "Experiment (default: the notebook's katib_metadata)."),
    space: Path = typer.Option(None, "--space", help="YAML/JSON: Katib's parameters list, or "
                               "{name: {min: A, max: B} (step, log: true optional) | "
                               "{choices: [...]} | {parameterType, feasibleSpace}}."),
    metric: str = typer.Option(None, "--metric", "-m", help="The objective metric's name."),
    direction: str = typer.Option(None, "--direction", help="maximize or minimize."),
    trials: int = typer.Option(None, "--trials", "-n", min=1, help="maxTrialCount."),
    parallel: int = typer.Option(None, "--parallel", "-j", min=1, help="parallelTrialCount."),
    algorithm: str = typer.Option(None, "--algorithm", "-a",
                                  help="random, grid, tpe, multivariate-tpe, "
                                       "bayesianoptimization, cmaes, sobol or hyperband."),
    setting: list[str] = typer.Option([], "--setting", help="Algorithm setting NAME=VALUE."),
    early_stopping: str = typer.Option(None, "--early-stopping",
                                       help="medianstop, successivehalving or hyperband."),
    max_failed: int = typer.Option(None, "--max-failed", min=0, help="maxFailedTrialCount."),
    goal: float = typer.Option(None, "--goal", help="Stop once a trial reaches this value."),
    seed: int = typer.Option(None, "--seed", help="Seed for the search algorithm."),
    param: list[str] = typer.Option([], "--param", "-p",
                                    help="Fix another pipeline parameter: NAME=VALUE."),
    name: str = typer.Option(None, "--name", help="The study's name (default: derived)."),
    volume: list[str] = typer.Option([], "--volume", help=VOLUME_HELP),
    resume: str = typer.Option(None, "--resume", help="Continue this study after a crash."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step of every trial."),
    as_json: bool = typer.Option(False, "--json", help="Print the finished study as JSON."),
) -> None:
    """Start (or resume) a study."""
    from kiln.errors import UserError
    from kiln.spec.params import parse_assignments
    from kiln.tune import api
    from kiln.tune.config import load_space
    from kiln.tune.progress import LiveStudyObserver, PlainStudyObserver, StudyObserver

    console = output.console(stderr=as_json)
    observer: StudyObserver = (LiveStudyObserver if console.is_terminal
                               else PlainStudyObserver)(console)
    try:
        if resume:
            if target:
                raise UserError("--resume continues a recorded study; give no PATH with it")
            if volume:
                raise UserError("--volume binds volumes when a study starts; a resumed study "
                                "keeps its bindings", where="--volume")
            study = api.resume(resume, trials=trials, observer=observer)
        else:
            if not target:
                raise UserError("give the pipeline to tune", hint="kiln tune notebook.ipynb")
            space_items = load_space(space) if space else None
            study = api.tune(target, space=space_items, objective=metric, direction=direction,
                             trials=trials, parallel=parallel, algorithm=algorithm,
                             settings=parse_assignments(setting) if setting else None,
                             early_stopping=early_stopping, max_failed=max_failed, goal=goal,
                             seed=seed, params=parse_assignments(param) or None, config=config,
                             name=name, cache=not no_cache, observer=observer,
                             volumes=volume_bindings(volume))
    except KeyboardInterrupt:
        console.print("[magenta]cancelled[/]: running trials were stopped; continue with "
                      "`kiln tune --resume STUDY`")
        raise typer.Exit(status.CANCELLED) from None
    if as_json:
        sys.stdout.write(json.dumps(study.to_dict(), indent=2, default=str) + "\n")
    else:
        _print_best(console, study.info)
    if study.status != "succeeded":
        raise typer.Exit(status.RUN_FAILED)


def _models_of(run_id: str | None) -> list[str]:
    from kiln.runtime import Runtime
    from kiln.serving.loading import models_of_run

    return models_of_run(Runtime.open().catalog, run_id)


def _print_best(console: Any, info: Any) -> None:
    best = info.best()
    style = "green" if info.status == "succeeded" else "red"
    console.print(f"study [bold]{output.lit(info.name)}[/] [{style}]{info.status}[/]")
    if best is not None:
        params = ", ".join(f"{k}={v}" for k, v in best.params.items())
        console.print(f"best: trial {best.number}, {info.metric} = {best.value:.6g} with {params}",
                      markup=False)
        console.print(f"best run: kiln runs show {best.run_id}")
        for model in _models_of(best.run_id):
            console.print(f"serve its model: kiln serve {best.run_id}/{model}")
    console.print(f"details: kiln tune show {info.name}")


@tune_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
       limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000)) -> None:
    """List studies (tuning and AutoML), newest first."""
    from rich.table import Table

    from kiln.catalog.studies import list_studies
    from kiln.runtime import Runtime

    found = list_studies(Runtime.open().catalog, limit=limit)
    if as_json:
        rows = [{k: v for k, v in s.to_dict().items() if k not in ("trials", "config")}
                for s in found]
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table(show_edge=False)
    for col in ("name", "kind", "pipeline", "status", "trials", "objective", "best", "created"):
        table.add_column(col)
    for s in found:
        c, best = s.counts(), s.best()
        obj = f"{s.direction[:3]} {s.metric}"
        table.add_row(s.name, s.kind, s.pipeline, s.status,
                      f"{c['complete']}✓ {c['pruned']}✂ {c['failed']}✗ {c['running']}…",
                      obj, f"{best.value:.6g}" if best else "",
                      s.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    output.console().print(table)


@tune_app.command("show")
def show(study: str = typer.Argument(..., help="Study name, id, id prefix or 'latest'."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """A study's trials table, best trial, its parameters and run."""
    from rich.table import Table

    from kiln.catalog.studies import get_study
    from kiln.runtime import Runtime

    info = get_study(Runtime.open().catalog, study)
    if as_json:
        sys.stdout.write(json.dumps(info.to_dict(), indent=2, default=str) + "\n")
        return
    console = output.console()
    algo = info.config.get("algorithm", {}).get("algorithmName", "")
    console.print(f"study [bold]{output.lit(info.name)}[/] ({info.id}) {info.kind} of "
                  f"{output.lit(info.pipeline)}: "
                  f"{info.status}, {algo}, {info.direction} {info.metric}")
    if info.error:
        console.print(f"[red]{output.lit(info.error)}[/]")
    best = info.best()
    table = Table(show_edge=False)
    param_names = [p["name"] for p in info.config.get("parameters", [])] or \
        sorted({k for t in info.trials for k in t.params})
    for col in ("trial", "state", info.metric or "value", *param_names, "run", "time"):
        table.add_column(col)
    for t in info.trials:
        mark = " ★" if best is not None and t.number == best.number else ""
        value = f"{t.value:.6g}" if t.value is not None else (t.error or "")[:60]
        table.add_row(f"{t.number}{mark}", t.state, value,
                      *[_fmt(t.params.get(p)) for p in param_names], (t.run_id or "")[:16],
                      f"{t.duration:.1f}s" if t.duration is not None else "")
    console.print(table)
    if best is not None:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
        console.print(f"best: trial {best.number}, {info.metric} = {best.value:.6g} with {params}"
                      + (f", run {best.run_id}" if best.run_id else ""), markup=False)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)
