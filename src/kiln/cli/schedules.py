"""`kiln schedule create|ls|pause|resume|rm`: recurring runs of an uploaded pipeline, started
by `kiln scheduler` or the scheduler inside `kiln server`."""

from __future__ import annotations

import typer

from kiln.cli import runtime

schedule_app = typer.Typer(help="Recurring runs of uploaded pipelines.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")


@schedule_app.command("create")
def create(name: str = typer.Argument(..., help="A name for the schedule, e.g. nightly."),
           pipeline: str = typer.Option(..., "--pipeline", help="An uploaded pipeline."),
           version: int = typer.Option(None, "--version", min=1,
                                       help="Pin a version (default: the latest at each run)."),
           every: str = typer.Option(None, "--every", help="An interval: 90s, 30m, 1h, 1d."),
           cron: str = typer.Option(None, "--cron", help='Cron, in UTC: "0 3 * * *".'),
           param: list[str] = typer.Option([], "--param", "-p", help="NAME=VALUE, repeatable."),
           experiment: str = typer.Option(None, "--experiment"),
           max_concurrency: int = typer.Option(1, "--max-concurrency", min=1, max=100,
                                               help="Runs of it at once, at most.")) -> None:
    """Start a pipeline every interval or on a cron schedule."""
    from kiln.engine import recurring
    from kiln.spec.params import parse_assignments

    sch = recurring.create(name, pipeline, every=every, cron=cron, version=version,
                           params=parse_assignments(param), experiment=experiment,
                           max_concurrency=max_concurrency, rt=runtime())
    typer.echo(f"schedule {sch.name}: {sch.pipeline} {sch.when}, at most "
               f"{sch.max_concurrency} at once (started by `kiln scheduler` or `kiln server`)")


@schedule_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json")) -> None:
    """Schedules with their next and last start."""
    from kiln.catalog.schedules import ScheduleInfo, list_schedules
    from kiln.cli.output import print_listing
    from kiln.engine.recurring import next_start

    def row(s: ScheduleInfo) -> tuple[str, ...]:
        nxt = next_start(s)
        return (s.name, s.pipeline + (f" v{s.version}" if s.version else ""), s.when,
                "paused" if s.paused else "active",
                nxt.strftime("%Y-%m-%d %H:%M:%S") if nxt else "",
                s.last_run_id or "", (s.last_error or "")[:60])

    print_listing(list_schedules(runtime().catalog), as_json=as_json,
                  columns=("schedule", "pipeline", "when", "state", "next (UTC)", "last run",
                           "last error"), row=row,
                  empty="no schedules yet: `kiln schedule create NAME --pipeline P --every 1h`")


@schedule_app.command("pause")
def pause(name: str = typer.Argument(...)) -> None:
    """Stop starting runs (running ones go on)."""
    from kiln.catalog.schedules import set_paused

    set_paused(runtime().catalog, name, True)
    typer.echo(f"schedule {name} paused")


@schedule_app.command("resume")
def resume(name: str = typer.Argument(...)) -> None:
    """Start runs again, from the next slot (missed ones are not made up)."""
    from kiln.catalog.schedules import set_paused

    set_paused(runtime().catalog, name, False)
    typer.echo(f"schedule {name} resumed")


@schedule_app.command("rm")
def rm(name: str = typer.Argument(...)) -> None:
    """Remove a schedule; the runs it started stay."""
    from kiln.catalog.schedules import delete_schedule

    delete_schedule(runtime().catalog, name)
    typer.echo(f"schedule {name} removed")
