"""`kiln store`: check the store for damage and free what nothing references; `kiln scheduler`."""

from __future__ import annotations

import typer

from kiln.cli import runtime, status
from kiln.cli.output import byte_progress, human_size, print_json

store_app = typer.Typer(help="The content-addressed store: check and gc.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
    app.command("scheduler")(scheduler)


@store_app.command("check")
def check(read_data: bool = typer.Option(False, "--read-data",
                                         help="Also read every pack and verify every chunk."),
          repair: bool = typer.Option(False, "--repair",
                                      help="Make the catalog agree with the store: runs whose "
                                           "outputs were lost are marked failed, snapshots "
                                           "whose data was lost removed (then check again)."),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Verify the store; name what is damaged and which snapshots and artifacts it affects."""
    from kiln.catalog.roots import live_roots
    from kiln.store import maintenance

    rt = runtime()
    total = sum(size for _, size in rt.store.backend.list("data/")) if read_data else None
    with byte_progress("reading packs", total) as advance:
        rep = maintenance.check(rt.store, live_roots(rt.catalog), read_data=read_data,
                                progress=advance)
    fixed: dict[str, object] = {}
    if repair and not rep.ok:
        from kiln.catalog.repair import repair as repair_catalog

        if any(e.startswith("pack ") for e in rep.errors):
            # the index names packs that are gone or cut short: index what is there
            fixed["index"] = maintenance.rebuild_index(rt.store).to_dict()
            rep = maintenance.check(rt.store, live_roots(rt.catalog), read_data=read_data)
        fixed.update(repair_catalog(rt.catalog, rep.damaged_artifacts,
                                    rep.damaged_trees).to_dict())
        rep = maintenance.check(rt.store, live_roots(rt.catalog), read_data=read_data)
    if as_json:
        print_json({**rep.to_dict(), **({"repaired": fixed} if fixed else {})})
    else:
        _print_repair(fixed)
        for w in rep.warnings:
            typer.echo(f"warning: {w}")
        for e in rep.errors:
            typer.echo(f"damaged: {e}")
        if rep.affected:
            typer.echo("affected: " + ", ".join(rep.affected))
        typer.echo(f"{'ok' if rep.ok else 'DAMAGED'}: {rep.packs} packs, {rep.blobs} blobs"
                   + (f", {human_size(rep.bytes_read)} read" if read_data else ""))
        if not rep.ok and not repair:
            typer.echo("to make the catalog agree with the store: kiln store check --repair")
    if not rep.ok:
        raise typer.Exit(status.RUN_FAILED)


def _print_repair(fixed: dict[str, object]) -> None:
    if not fixed:
        return
    if "index" in fixed:
        typer.echo("repaired: the index was rebuilt from the packs that are there")
    for key, label in (("tasks_failed", "step marked failed (its output was lost)"),
                       ("runs_failed", "run marked failed"),
                       ("snapshots_removed", "snapshot removed (its data was lost)"),
                       ("not_repaired", "not repaired")):
        for item in fixed.get(key) or []:  # type: ignore[attr-defined]
            typer.echo(f"{label}: {item}")


@store_app.command("gc")
def gc(dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be freed."),
       as_json: bool = typer.Option(False, "--json")) -> None:
    """Free blobs no snapshot or run artifact references (waits for running writers)."""
    from kiln.catalog.roots import live_roots
    from kiln.store import maintenance

    rt = runtime()
    rep = maintenance.gc(rt.store, lambda: live_roots(rt.catalog), dry_run=dry_run)
    if as_json:
        print_json(rep.to_dict())
        return
    for skipped in rep.skipped:
        typer.echo(f"skipped: {skipped}")
    if not rep.swept:
        typer.echo("gc deleted nothing: blobs the index names cannot be read (damage); "
                   f"{rep.hint}")
        raise typer.Exit(status.RUN_FAILED)
    if rep.hint:
        typer.echo(f"hint: {rep.hint}")
    verb = "would free" if dry_run else "freed"
    typer.echo(f"{verb} {human_size(rep.bytes_freed)}: {rep.packs_deleted} packs deleted "
               f"({rep.packs_repacked} repacked), {rep.blobs_removed} blobs removed, "
               f"{rep.blobs_kept} kept")


@store_app.command("rebuild-index")
def rebuild_index(as_json: bool = typer.Option(False, "--json")) -> None:
    """Write the index again from the packs (after an index file was damaged or lost)."""
    from kiln.store import maintenance

    rep = maintenance.rebuild_index(runtime().store)
    if as_json:
        print_json(rep.to_dict())
        return
    for u in rep.unreadable:
        typer.echo(f"skipped {u}")
    typer.echo(f"index rebuilt from {rep.packs} packs ({rep.blobs} blobs)")
    if rep.unreadable:
        raise typer.Exit(status.RUN_FAILED)


def scheduler(poll: float = typer.Option(5.0, "--poll", min=0.1,
                                         help="Seconds between looks at the schedules.")) -> None:
    """Take scheduled volume snapshots and start recurring runs until stopped (Ctrl-C)."""
    from datetime import datetime

    from kiln.scheduler import run_scheduler

    def log(msg: str) -> None:
        typer.echo(f"{datetime.now():%H:%M:%S} {msg}")

    log("scheduler started")
    try:
        run_scheduler(runtime(), poll=poll, log=log)
    except KeyboardInterrupt:
        log("scheduler stopped")
