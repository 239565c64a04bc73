"""`kiln runs ls|show`, `kiln logs`, `kiln artifacts ls|get`: the read side of runs."""

from __future__ import annotations

import functools
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kiln.cli import output, remote, runtime
from kiln.cli.output import human_size, short_time

if TYPE_CHECKING:
    from kiln.client import Client

runs_app = typer.Typer(help="List and inspect pipeline runs.", no_args_is_help=True)
artifacts_app = typer.Typer(help="Step outputs stored by runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
    app.add_typer(artifacts_app, name="artifacts")
    app.command("logs")(logs)
    app.command("lineage")(lineage)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.2f}s" if seconds < 60 else f"{seconds / 60:.1f}m"


_STYLE = {"succeeded": "green", "failed": "red", "running": "yellow", "cancelled": "magenta",
          "cached": "cyan", "skipped": "dim", "queued": "dim"}


@runs_app.command("ls")
def ls(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000),
    experiment: str = typer.Option("", "--experiment", "-e"),
    status: str = typer.Option("", "--status", "-s",
                               help="running, succeeded, failed or cancelled."),
    filter_text: str = typer.Option("", "--filter", "-f",
                                    help='e.g. "metrics.accuracy > 0.9 and params.lr < 0.1"'),
    sort: str = typer.Option("", "--sort", help="-metrics.accuracy, params.lr, created..."),
) -> None:
    """List runs, newest first, or searched and sorted by metrics and parameters."""
    from rich.table import Table

    from kiln.catalog.runs import FINISHED, list_runs
    from kiln.errors import UserError

    if status and status not in (*FINISHED, "running"):
        raise UserError(f"unknown status '{status}'",
                        hint="use running, succeeded, failed or cancelled")
    client = remote()
    if client is not None:
        runs = client.runs(limit=limit, experiment=experiment or None, status=status or None,
                           filter=filter_text or None, sort=sort or None)
    else:
        runs = [r.to_dict(with_tasks=False) for r in list_runs(
            runtime().catalog, limit=limit, experiment=experiment or None,
            status=status or None, filter_text=filter_text or None, sort=sort or None)]
    if as_json:
        sys.stdout.write(json.dumps(runs, indent=2) + "\n")
        return
    table = Table(show_edge=False)
    for col in ("run", "name", "pipeline", "experiment", "status", "started", "duration",
                "metrics"):
        table.add_column(col)
    for r in runs:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(r["metrics"].items())[:3])
        table.add_row(r["id"], output.lit(r.get("name") or ""), r["pipeline"],
                      r["experiment"] or "",
                      f"[{_STYLE.get(r['status'], '')}]{r['status']}[/]",
                      short_time(r["created_at"]), _fmt_duration(r["duration"]), metrics)
    output.console().print(table if runs else
                           "no runs yet: start one with `kiln run` or `kiln demo`")


def _get_run(ref: str) -> dict[str, Any]:
    """The run as the API gives it, from the server (KILN_URL) or this machine's catalog."""
    client = remote()
    if client is not None:
        run = client.run(ref)
        run.pop("graph", None)
        return run
    from kiln.catalog.runs import get_run

    return get_run(runtime().catalog, ref).to_dict()


@runs_app.command("show")
def show(
    run: str = typer.Argument(..., help="Run id, its name, a unique prefix of an id, or "
                                        "'latest'."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A run's status, parameters, steps, metrics and artifacts."""
    from rich.table import Table

    info = _get_run(run)
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    c = output.console()
    named = f" ({output.lit(info['name'])})" if info.get("name") else ""
    c.print(f"[bold]run {info['id']}[/]{named}  pipeline {output.lit(info['pipeline'])}  "
            f"[{_STYLE.get(info['status'], '')}]{info['status']}[/]  "
            f"{_fmt_duration(info['duration'])}")
    if info["experiment"]:
        c.print(f"experiment: {info['experiment']}", markup=False)
    if info["error"]:
        c.print(f"[red]error: {output.lit(info['error'])}[/]")
    if info["params"]:
        c.print("params: " + ", ".join(f"{k}={v!r}" for k, v in info["params"].items()))
    if info["metrics"]:
        c.print("metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in info["metrics"].items()))
    table = Table(show_edge=False, title="steps", title_justify="left")
    for col in ("step", "state", "time", "attempts", "outputs"):
        table.add_column(col)
    for t in info["tasks"]:
        outs = ", ".join(f"{n} ({a['codec']}, {human_size(a['size'])})"
                         for n, a in t["outputs"].items())
        table.add_row(t["step"], f"[{_STYLE.get(t['status'], '')}]{t['status']}[/]",
                      _fmt_duration(t["duration"]), str(t["attempts"]), outs)
    c.print(table)


def logs(
    run: str = typer.Argument(..., help="Run id, a unique prefix of one, or 'latest'."),
    step: str = typer.Argument("", help="Only this step (default: every step)."),
) -> None:
    """Print the logs of a run's steps."""
    client = remote()
    if client is None:
        from kiln.engine.api import get_run

        r = get_run(run)
        states, read = r.steps, r.logs
    else:
        info = client.run(run)
        states = {t["step"]: t["status"] for t in info["tasks"]}
        read = functools.partial(_remote_log, client, info["id"], states)
    steps = [step] if step else list(states)
    for s in steps:
        text = read(s)
        if len(steps) > 1:
            typer.echo(f"=== {s} ({states.get(s, '?')})")
        typer.echo(text, nl=not text.endswith("\n") and bool(text))


def _remote_log(client: Client, run_id: str, states: dict[str, str], step: str) -> str:
    from kiln.errors import NotFoundError

    try:
        return client.logs(run_id, step)
    except NotFoundError:
        if step not in states:
            raise  # the server's "no step" error, with its suggestions
        return ""  # a step that has not started has no log yet, as locally


@artifacts_app.command("ls")
def artifacts_ls(run: str = typer.Argument(..., help="Run id, prefix or 'latest'."),
                 as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
                 ) -> None:
    """List a run's step outputs."""
    info = _get_run(run)
    items = [{"run": info["id"], "step": t["step"], "name": name, **a}
             for t in info["tasks"] for name, a in t["outputs"].items()]
    output.print_listing(
        items, as_json=as_json, columns=("step", "name", "type", "codec", "size", "digest"),
        row=lambda a: (a["step"], a["name"], a["type_name"], a["codec"], human_size(a["size"]),
                       a["digest"][:12]),
        empty=f"run {info['id']} stored no outputs")


@artifacts_app.command("get")
def artifacts_get(
    run: str = typer.Argument(..., help="Run id, prefix or 'latest'."),
    step: str = typer.Argument(...),
    name: str = typer.Argument(..., help="The output's name."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the file."),
) -> None:
    """Copy a step output's stored file (e.g. .parquet, .npy, .joblib) to a path."""
    from kiln.errors import UserError
    from kiln.files import atomic_path

    if output.is_dir():
        raise UserError(f"{output} is a folder", hint="give a file path, e.g. -o model.joblib")
    client = remote()
    if client is not None:
        size = client.download_output(run, step, name, output)
        typer.echo(f"wrote {output} ({human_size(size)})")
        return
    from kiln.catalog.runs import get_run

    rt = runtime()
    ref = get_run(rt.catalog, run).output(step, name)
    with atomic_path(output) as tmp:
        shutil.copyfile(rt.store.local_path(ref.digest), tmp)
    typer.echo(f"wrote {output} ({ref.codec}, {human_size(ref.size)})")


@runs_app.command("compare")
def compare(runs: list[str] = typer.Argument(...,
                                             help="Two or more run ids, prefixes or 'latest'."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Parameters and metrics of runs side by side; differing rows are marked."""
    from rich.table import Table

    from kiln.catalog.compare import compare as compare_runs

    c = compare_runs(runtime().catalog, runs)
    if as_json:
        sys.stdout.write(json.dumps(c.to_dict(), indent=2, default=str) + "\n")
        return
    table = Table("", *[r.id[:12] for r in c.runs], show_edge=False)
    for title, rows in (("params", c.params), ("metrics", c.metrics)):
        differ = c.differing(rows)
        for name, values in rows.items():
            cells = ["-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)
                     for v in values]
            mark = "[bold yellow]" if name in differ else ""
            table.add_row(f"{mark}{title[:-1]} {name}", *[f"{mark}{x}" for x in cells])
    output.console().print(table)


def lineage(ref: str = typer.Argument(..., help="A run, an artifact digest, or RUN/STEP/NAME."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """What an artifact or run came from and what was made from it."""
    from rich.tree import Tree

    from kiln.catalog.lineage import lineage as walk

    g = walk(runtime().catalog, ref)
    if as_json:
        sys.stdout.write(json.dumps(g.to_dict(), indent=2) + "\n")
        return
    label = {f"t{k}": f"[bold]{v['run'][:12]}/{v['step']}[/] ({v['status']})"
             for k, v in g.tasks.items()}
    label |= {f"a{k}": f"[cyan]{v['digest'][:12]}[/] {v['type']}" for k, v in g.artifacts.items()}
    tree = Tree(f"lineage of {g.root}: {len(g.tasks)} tasks, {len(g.artifacts)} artifacts")
    for a, b in sorted(g.edges):
        tree.add(f"{label.get(a, a)} -> {label.get(b, b)}")
    output.console().print(tree)


@runs_app.command("cancel")
def cancel(run: str = typer.Argument(..., help="Run id, prefix or 'latest'.")) -> None:
    """Stop a running run (its steps are stopped, as with Ctrl-C)."""
    client = remote()
    if client is not None:
        status = client.cancel(run)["status"]
    else:
        from kiln.engine.launch import cancel as cancel_run

        status = cancel_run(run, rt=runtime(), wait=30.0)
    typer.echo(f"run {run}: " + ("cancelling (its steps are being stopped)"
                                 if status == "running" else status))


@runs_app.command("label")
def label(run: str = typer.Argument(...),
          labels: list[str] = typer.Argument(None, help="KEY=VALUE to set, KEY- to remove.")
          ) -> None:
    """Set or remove a run's labels; filter on them with --filter "labels.KEY = VALUE"."""
    from kiln.catalog.runs import set_labels
    from kiln.spec.params import parse_assignments

    items = labels or []
    changes: dict[str, str | None] = {i[:-1]: None for i in items if i.endswith("-")}
    changes.update(parse_assignments([i for i in items if not i.endswith("-")], what="label",
                                     example="team=vision"))
    now = set_labels(runtime().catalog, run, changes)
    typer.echo(", ".join(f"{k}={v}" for k, v in now.items()) or "no labels")


@runs_app.command("archive")
def archive(run: str = typer.Argument(...),
            undo: bool = typer.Option(False, "--undo", help="Bring it back to the lists.")) -> None:
    """Hide a run from the lists, keeping everything it holds."""
    from kiln.catalog.runs import set_archived

    set_archived(runtime().catalog, run, not undo)
    typer.echo(f"run {run} {'restored' if undo else 'archived'}")


@runs_app.command("rm")
def rm(run: str = typer.Argument(...)) -> None:
    """Delete a finished run's records; `kiln store gc` then frees outputs nothing else uses."""
    from kiln.catalog.runs import delete_run

    typer.echo(f"deleted run {delete_run(runtime().catalog, run)}")
