"""`kiln snapshot`: immutable versions of volumes — create, list, diff, restore, read, prune."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kiln.cli import output, runtime
from kiln.cli.output import byte_progress, folder_size, human_size, print_json

snapshot_app = typer.Typer(help="Versions of volumes: create, ls, show, diff, restore, cat, "
                                "prune. SNAP is an id prefix, VOLUME:latest or VOLUME:TAG.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(snapshot_app, name="snapshot")


@snapshot_app.command("create")
def create(volume: str = typer.Argument(...),
           message: str = typer.Option("", "--message", "-m"),
           tag: list[str] = typer.Option([], "--tag", "-t"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Snapshot a volume; unchanged files are not read again."""
    from kiln.volumes import snapshots, volumes

    rt = runtime()
    top = volumes.root(volume, rt=rt)
    with byte_progress(f"snapshot {volume}", lambda: folder_size(str(top))) as advance:
        snap = snapshots.create(volume, message, tag, progress=advance, rt=rt)
    skipped = snap.extra.get("skipped", [])
    for s in skipped:
        typer.echo(f"warning: skipped {s['path']}: {s['why']}", err=True)
    if as_json:
        print_json(snap.to_dict())
        return
    typer.echo(f"snapshot {snap.short} of {volume}: {snap.files} files, {human_size(snap.size)}, "
               f"{human_size(snap.added)} new in the store"
               + (f", {len(skipped)} skipped" if skipped else ""))


@snapshot_app.command("ls")
def ls(volume: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """A volume's history, newest first."""
    from rich.table import Table

    from kiln.volumes import snapshots

    snaps = snapshots.list_snapshots(volume, rt=runtime())
    if as_json:
        print_json([s.to_dict() for s in snaps])
        return
    if not snaps:
        typer.echo(f"volume {volume} has no snapshots; `kiln snapshot create {volume}` takes one")
        return
    t = Table("id", "created", "files", "size", "added", "tags", "message", box=None)
    for s in snaps:
        origin = f" (run {s.run_id[:8]} {s.step or 'start'})" if s.run_id else ""
        t.add_row(s.short, f"{s.created_at:%Y-%m-%d %H:%M:%S}", str(s.files), human_size(s.size),
                  human_size(s.added), ",".join(s.tags), s.message + origin)
    output.console().print(t)


@snapshot_app.command("show")
def show(snap: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """A snapshot's record and files."""
    from kiln.volumes import snapshots

    rt = runtime()
    info = snapshots.get(snap, rt=rt)
    entries = snapshots.files(info.id, rt=rt)
    if as_json:
        print_json({**info.to_dict(), "entries": entries})
        return
    created = f"{info.created_at:%Y-%m-%d %H:%M:%S}"
    typer.echo("\n".join([
        f"snapshot {info.id}", f"volume   {info.volume}", f"created  {created} UTC",
        f"parent   {info.parent_id or '-'}", f"tags     {','.join(info.tags) or '-'}",
        f"message  {info.message or '-'}",
        f"files    {info.files} ({human_size(info.size)}, {human_size(info.added)} added)"]))
    for e in entries:
        typer.echo(f"  {e['path']}{'/' if e['type'] == 'dir' else ''}"
                   + (f"  {human_size(e['size'])}" if e["type"] == "file" else ""))


@snapshot_app.command("diff")
def diff(a: str = typer.Argument(...), b: str = typer.Argument(...),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Files added, removed and modified from snapshot A to B."""
    from kiln.volumes import snapshots

    d = snapshots.diff(a, b, rt=runtime())
    if as_json:
        print_json(d.to_dict())
        return
    marks = {"added": "+", "removed": "-", "modified": "M"}
    for c in d.changes:
        sizes = (human_size(c.size_after) if c.kind == "added" else
                 human_size(c.size_before) if c.kind == "removed" else
                 f"{human_size(c.size_before)} -> {human_size(c.size_after)}")
        typer.echo(f"{marks[c.kind]} {c.path}  {sizes}")
    s = d.to_dict()
    typer.echo(f"{s['added']} added, {s['removed']} removed, {s['modified']} modified")


@snapshot_app.command("restore")
def restore(snap: str = typer.Argument(...),
            to: Path = typer.Option(None, "--to", help="An empty (or new) folder."),
            new_volume: str = typer.Option(None, "--new-volume", help="Restore as a new volume."),
            force: bool = typer.Option(False, "--force",
                                       help="Write over a non-empty folder.")) -> None:
    """Write a snapshot's files into a folder or a new volume."""
    from kiln.volumes import snapshots

    rt = runtime()
    info = snapshots.get(snap, rt=rt)
    with byte_progress(f"restore {info.short}", info.size) as advance:
        dest = snapshots.restore(info.id, to=to, new_volume=new_volume, force=force,
                                 progress=advance, rt=rt)
    typer.echo(f"restored {info.short} ({info.files} files, {human_size(info.size)}) to {dest}")


@snapshot_app.command("cat")
def cat(snap: str = typer.Argument(...), path: str = typer.Argument(...),
        offset: int = typer.Option(0, "--offset", min=0),
        length: int = typer.Option(None, "--length", min=0)) -> None:
    """Print one file (or a byte range of it) from a snapshot without restoring anything."""
    from kiln.volumes import snapshots

    rt = runtime()
    with snapshots.open_file(snap, path, rt=rt) as f:
        f.seek(offset)
        left = length
        while left is None or left > 0:
            block = f.read(1 << 20 if left is None else min(left, 1 << 20))
            if not block:
                break
            sys.stdout.buffer.write(block)
            if left is not None:
                left -= len(block)
    sys.stdout.buffer.flush()


@snapshot_app.command("prune")
def prune(volume: str = typer.Argument(...),
          dry_run: bool = typer.Option(False, "--dry-run", help="Show what would go."),
          keep_last: int = typer.Option(None, "--keep-last", min=1),
          keep_hourly: int = typer.Option(None, "--keep-hourly", min=1),
          keep_daily: int = typer.Option(None, "--keep-daily", min=1),
          keep_weekly: int = typer.Option(None, "--keep-weekly", min=1),
          keep_monthly: int = typer.Option(None, "--keep-monthly", min=1),
          keep_yearly: int = typer.Option(None, "--keep-yearly", min=1),
          keep_tag: list[str] = typer.Option([], "--keep-tag"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Forget snapshots the retention policy does not keep (`kiln store gc` frees the bytes)."""
    from kiln.cli.volumes import policy_from
    from kiln.volumes import snapshots

    policy = policy_from(keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
                         keep_yearly, keep_tag)
    plan = snapshots.prune(volume, policy or None, dry_run=dry_run, rt=runtime())
    if as_json:
        print_json({"dry_run": dry_run, "policy": plan.policy, "keep": plan.keep,
                    "remove": [s.id for s in plan.remove]})
        return
    verb = "would remove" if dry_run else "removed"
    for s in plan.remove:
        typer.echo(f"{verb} {s.short}  {s.created_at:%Y-%m-%d %H:%M:%S}  {s.message}")
    typer.echo(f"kept {len(plan.keep)}, {verb} {len(plan.remove)}"
               + ("" if dry_run or not plan.remove else "; `kiln store gc` frees their bytes"))
