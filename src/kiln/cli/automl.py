"""`kiln automl DATA --target COLUMN`: search models within a time budget, keep the best."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from kiln.cli import output, status


def register(app: typer.Typer) -> None:
    app.command("automl")(automl)


def automl(
    data: Path = typer.Argument(..., help="A CSV, TSV or Parquet file."),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    task: str = typer.Option(None, "--task", help="classification or regression "
                                                  "(default: guessed from the target)."),
    metric: str = typer.Option(None, "--metric", "-m",
                               help="accuracy, roc_auc, f1, log_loss (classification); r2, "
                                    "rmse, mae, mse, mape (regression)."),
    time_budget: float = typer.Option(60, "--time-budget", "-b", help="Seconds to search."),
    seed: int = typer.Option(0, "--seed"),
    name: str = typer.Option(None, "--name", help="The study's name (default: derived)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Find a good model for a table: every candidate is recorded as a trial, and the best
    is rebuilt by a generated Kale notebook run, ready for `kiln serve`."""
    from kiln.tune.api import automl as run_automl

    console = output.console(stderr=as_json)
    try:
        result = run_automl(data, target=target, task=task, metric=metric,
                            time_budget=time_budget, seed=seed, name=name,
                            progress=console.is_terminal or not as_json)
    except KeyboardInterrupt:
        console.print("[magenta]cancelled[/]")
        raise typer.Exit(status.CANCELLED) from None
    study = result.study
    if as_json:
        out = {"study": study.name, "learner": result.learner, "metric": result.metric,
               "score": result.score, "run": result.run.id, "model": result.model_ref,
               "notebook": str(result.notebook), "trials": len(study.trials),
               "best_trial": study.to_dict()["best"]}
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return
    console.print(f"study [bold]{output.lit(study.name)}[/]: {len(study.trials)} candidates; best "
                  f"{result.learner}, {result.metric} = {result.score:.4f} on held-out rows")
    console.print(f"model:    {result.model_ref}   (serve it: kiln serve {result.model_ref})")
    console.print(f"notebook: {result.notebook}   (reproduce: kiln run {result.notebook})")
    console.print(f"trials:   kiln tune show {study.name}")
