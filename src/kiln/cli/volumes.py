"""`kiln volume`: named folders runs mount and snapshots version, and file operations in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kiln.cli import output, remote, runtime
from kiln.cli.output import human_size, print_json, short_time

volume_app = typer.Typer(help="Named data folders: create, list, remove, and work with their "
                              "files. Their history is kept by `kiln snapshot`.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(volume_app, name="volume")


@volume_app.command("create")
def create(name: str = typer.Argument(..., help="The volume's name."),
           path: Path = typer.Option(None, "--path", help="Adopt this existing folder instead "
                                                          "of creating one under KILN_HOME."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Create a volume (a new managed folder, or an existing one with --path)."""
    from kiln.volumes import volumes

    info = volumes.create(name, path, rt=runtime())
    if as_json:
        print_json(info.to_dict())
    else:
        typer.echo(f"volume {info.name} at {info.path}")


@volume_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json")) -> None:
    """List volumes with their latest snapshot."""
    from rich.table import Table

    from kiln.volumes import volumes

    client = remote()
    vols = client.volumes() if client is not None else volumes.listing(rt=runtime())
    if as_json:
        print_json([{**v, "latest_snapshot": v["latest_snapshot"]["id"]
                     if v["latest_snapshot"] else None} for v in vols])
        return
    if not vols:
        typer.echo("no volumes yet; create one with `kiln volume create NAME`")
        return
    t = Table("name", "path", "latest snapshot", "schedule", "retention", box=None)
    for v in vols:
        s = v["latest_snapshot"]
        latest = f"{s['id'][:12]} {short_time(s['created_at'], seconds=False)}" if s else "-"
        t.add_row(v["name"], v["path"], latest, _schedule_text(v["schedule"]),
                  _policy_text(v["retention"]))
    output.console().print(t)


def _schedule_text(sch: dict[str, Any]) -> str:
    if "every" in sch:
        from kiln.schedules_time import format_interval

        return f"every {format_interval(int(sch['every']))}"
    return f"cron {sch['cron']}" if "cron" in sch else "-"


def _policy_text(pol: dict[str, Any]) -> str:
    return " ".join(f"{k[5:]}={','.join(v) if isinstance(v, list) else v}"
                    for k, v in pol.items()) or "-"


@volume_app.command("rm")
def rm(name: str = typer.Argument(..., help="The volume."),
       path: str = typer.Argument(None, help="A file or folder inside the volume to remove "
                                             "(without it, the volume itself is removed)."),
       recursive: bool = typer.Option(False, "--recursive", "-r", help="Remove a folder."),
       yes: bool = typer.Option(False, "--yes",
                                help="Remove a managed volume with files.")) -> None:
    """Remove a file in a volume, or (without PATH) the volume and its snapshots' records."""
    from kiln.errors import UserError
    from kiln.volumes import volumes

    rt = runtime()
    if path is not None:
        volumes.rm(name, path, recursive=recursive, rt=rt)
        typer.echo(f"removed {path} from {name}")
        return
    info = volumes.get(name, rt=rt)
    if info.managed and Path(info.path).is_dir() and any(Path(info.path).iterdir()) and not yes:
        raise UserError(f"volume '{name}' holds files in {info.path}, which removing it deletes",
                        hint="pass --yes to remove it, or restore it later from a snapshot "
                             "before running `kiln store gc`")
    volumes.remove(name, rt=rt)
    typer.echo(f"removed volume {name}" + (" and its folder" if info.managed else
                                           f" (its folder {info.path} is kept)"))


@volume_app.command("files")
def files(name: str = typer.Argument(...), path: str = typer.Argument("", help="A folder or file."),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """List the files in a volume's folder."""
    from rich.table import Table

    from kiln.volumes import volumes

    client = remote()
    entries = client.files(name, path) if client is not None else \
        [e.to_dict() for e in volumes.files(name, path, rt=runtime())]
    if as_json:
        print_json(entries)
        return
    t = Table("path", "type", "size", box=None)
    for e in entries:
        t.add_row(e["path"] + ("/" if e["type"] == "dir" else ""), e["type"],
                  human_size(e["size"]) if e["type"] == "file" else "")
    output.console().print(t)


@volume_app.command("put")
def put(name: str = typer.Argument(...),
        source: Path = typer.Argument(..., help="Local file or folder."),
        dest: str = typer.Argument("", help="Folder or file name inside the volume.")) -> None:
    """Copy a local file or folder into a volume."""
    from kiln.volumes import volumes

    typer.echo(f"wrote {volumes.put(name, source, dest, rt=runtime())}")


@volume_app.command("get")
def get(name: str = typer.Argument(...),
        path: str = typer.Argument(..., help="File in the volume."),
        dest: Path = typer.Argument(Path("."), help="Local file or folder.")) -> None:
    """Copy a file out of a volume."""
    from kiln.volumes import volumes

    typer.echo(f"wrote {volumes.get_file(name, path, dest, rt=runtime())}")


@volume_app.command("mv")
def mv(name: str = typer.Argument(...), src: str = typer.Argument(...),
       dst: str = typer.Argument(...)) -> None:
    """Move or rename a file or folder inside a volume."""
    from kiln.volumes import volumes

    typer.echo(f"moved {src} to {volumes.mv(name, src, dst, rt=runtime())}")


@volume_app.command("retention")
def retention(name: str = typer.Argument(...),
              keep_last: int = typer.Option(None, "--keep-last", min=1),
              keep_hourly: int = typer.Option(None, "--keep-hourly", min=1),
              keep_daily: int = typer.Option(None, "--keep-daily", min=1),
              keep_weekly: int = typer.Option(None, "--keep-weekly", min=1),
              keep_monthly: int = typer.Option(None, "--keep-monthly", min=1),
              keep_yearly: int = typer.Option(None, "--keep-yearly", min=1),
              keep_tag: list[str] = typer.Option([], "--keep-tag"),
              clear: bool = typer.Option(False, "--clear", help="Remove the policy.")) -> None:
    """Set the retention policy `kiln snapshot prune` applies (restic's forget rules)."""
    from kiln.volumes import snapshots

    policy = {} if clear else policy_from(keep_last, keep_hourly, keep_daily, keep_weekly,
                                          keep_monthly, keep_yearly, keep_tag)
    info = snapshots.set_retention(name, policy, rt=runtime())
    typer.echo(f"retention of {name}: {_policy_text(info.retention)}")


def policy_from(last: int | None, hourly: int | None, daily: int | None, weekly: int | None,
                monthly: int | None, yearly: int | None, tags: list[str]) -> dict[str, Any]:
    raw = {"keep_last": last, "keep_hourly": hourly, "keep_daily": daily, "keep_weekly": weekly,
           "keep_monthly": monthly, "keep_yearly": yearly, "keep_tags": tags}
    return {k: v for k, v in raw.items() if v}


@volume_app.command("schedule")
def schedule(name: str = typer.Argument(...),
             every: str = typer.Option(None, "--every", help="Interval: 90s, 30m, 1h, 1d."),
             cron: str = typer.Option(None, "--cron", help='Cron expression: "0 * * * *".'),
             off: bool = typer.Option(False, "--off", help="Stop scheduled snapshots.")) -> None:
    """Snapshot a volume on a schedule (run by `kiln scheduler`)."""
    from kiln.volumes import schedules

    info = schedules.set_schedule(name, every=every, cron=cron, off=off, rt=runtime())
    typer.echo(f"schedule of {name}: {_schedule_text(info.schedule)}"
               + ("" if off else "; `kiln scheduler` takes them"))
