"""`kiln publish`, `kiln registry search|show|set|rm`, `kiln subscribe`, `kiln subscription
ls|pause|resume|rm|sync` and `kiln models register|ls|show|alias`: each one REST call, to
KILN_URL, the server `kiln login` signed in to last, or this machine's home in-process
(kiln.cli.identity.server), so the registry's rules are the same everywhere."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from kiln.cli.identity import call
from kiln.cli.output import human_size, print_json, print_listing, short_time

registry_app = typer.Typer(help="Buckets of published snapshots, models and run outputs.",
                           no_args_is_help=True)
subscription_app = typer.Typer(help="Volumes and models kept at a bucket's newest version.",
                               no_args_is_help=True)
models_app = typer.Typer(help="Registered models: versions, aliases, lineage.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
    app.command("subscribe")(subscribe)
    app.add_typer(registry_app, name="registry")
    app.add_typer(subscription_app, name="subscription")
    app.add_typer(models_app, name="models")


def _bucket_path(bucket: str) -> str:
    from kiln.registry.buckets import parse

    owner, name = parse(bucket)
    return f"/registry/buckets/{owner}/{name}"


def publish(source: str = typer.Argument(..., metavar="SOURCE",
                                         help="VOLUME (snapshotted now), VOLUME:SNAPSHOT, "
                                              "models:/NAME[@ALIAS|/N], or run:RUN"),
            bucket: str = typer.Option(..., "--bucket", "-b", help="OWNER/NAME"),
            message: str = typer.Option("", "--message", "-m"),
            tag: list[str] = typer.Option([], "--tag", help="Repeatable."),
            visibility: str = typer.Option(None, "--visibility",
                                           help="private (default), group or public"),
            parent: int = typer.Option(None, "--parent", help="The version this builds on; "
                                       "refused if the bucket moved past it."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Publish a new version of a bucket: a reference to content already stored, never a
    copy."""
    got = call("POST", _bucket_path(bucket) + "/versions", json={
        "source": source, "message": message, "tags": tag, "visibility": visibility,
        "parent": parent})
    if as_json:
        print_json(got)
        return
    v = got["version"]
    typer.echo(f"{got['bucket']} v{v['number']}: {v['source']} ({human_size(v['size'])}, "
               f"{got['visibility']})")


@registry_app.command("search")
def search(text: str = typer.Argument("", help="In names, descriptions and messages."),
           owner: str = typer.Option(None, "--owner"), tag: str = typer.Option(None, "--tag"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Buckets you may read."""
    rows = call("GET", "/registry/buckets", params={k: v for k, v in {
        "q": text, "owner": owner, "tag": tag}.items() if v})["buckets"]
    print_listing(rows, as_json=as_json, empty="no bucket you may read matches",
                  columns=["bucket", "versions", "latest", "visibility", "updated"],
                  row=lambda b: [b["bucket"], str(b["head"]),
                                 (b["latest"] or {}).get("message") or "-", b["visibility"],
                                 short_time(b["latest"]["created_at"], seconds=False)
                                 if b["latest"] else "-"])


@registry_app.command("show")
def show(bucket: str = typer.Argument(..., help="OWNER/NAME"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    got = call("GET", _bucket_path(bucket))
    if as_json:
        print_json(got)
        return
    typer.echo(f"{got['bucket']} ({got['visibility']}; {got['head']} versions"
               f"{'; mirror of ' + got['origin'] if got['origin'] else ''})")
    for v in got["versions"]:
        tags = f" [{', '.join(v['tags'])}]" if v["tags"] else ""
        typer.echo(f"  v{v['number']}  {short_time(v['created_at'], seconds=False)}  "
                   f"{v['author']}  {human_size(v['size'])}  {v['source']}  "
                   f"{v['message']}{tags}")


@registry_app.command("set")
def set_bucket(bucket: str = typer.Argument(...),
               visibility: str = typer.Option(None, "--visibility"),
               description: str = typer.Option(None, "--description")) -> None:
    got = call("PATCH", _bucket_path(bucket), json={"visibility": visibility,
                                                    "description": description})
    typer.echo(f"{got['bucket']}: {got['visibility']}")


@registry_app.command("share")
def share(bucket: str = typer.Argument(...),
          level: str = typer.Option("read", "--level", help="read, edit (publish) or manage"),
          user: str = typer.Option(None, "--user"), group: str = typer.Option(None, "--group"),
          remove: bool = typer.Option(False, "--rm", help="Take the grant away.")) -> None:
    """Let a user or group read, publish to, or manage a bucket."""
    from kiln.cli.identity import _subject

    kind, who = _subject(user, group)
    path = f"{_bucket_path(bucket)}/grants/{kind}/{who}"
    if remove:
        call("DELETE", path)
        typer.echo(f"{kind} {who} no longer has a grant on {bucket}")
        return
    call("PUT", path, json={"level": level})
    typer.echo(f"{kind} {who} may {level} {bucket}")


@registry_app.command("rm")
def rm_bucket(bucket: str = typer.Argument(...),
              yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Delete a bucket for everyone; its subscribers are told it was deleted."""
    if not yes:
        typer.confirm(f"delete bucket {bucket} and all its versions?", abort=True)
    call("DELETE", _bucket_path(bucket))
    typer.echo(f"bucket {bucket} deleted")


def subscribe(bucket: str = typer.Argument(..., help="OWNER/NAME"),
              to: str = typer.Option(None, "--to", help="The volume kept at its newest "
                                                        "version (made if missing)."),
              model: str = typer.Option(None, "--model", help="Or the registered model that "
                                                              "gets each version."),
              source: list[str] = typer.Option([], "--from", help="A peer server that has it "
                                               "(repeatable, tried in order; default: here)."),
              token_env: str = typer.Option(None, "--token-env", help="The environment "
                                            "variable holding a token for the peers."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Follow a bucket: its newest version now, and each new one as it comes."""
    from kiln.errors import UserError

    if bool(to) == bool(model):
        raise UserError("say what follows the bucket: --to VOLUME or --model NAME",
                        where="--to")
    token = os.environ.get(token_env) if token_env else None
    if token_env and not token:
        raise UserError(f"${token_env} is empty", where="--token-env")
    got = call("POST", "/subscriptions", json={
        "bucket": bucket, "to": to or model, "kind": "volume" if to else "model",
        "sources": source, "token": token})
    if as_json:
        print_json(got)
        return
    _say_sync(got["sync"])
    typer.echo(f"subscription {got['id']}: {got['target_kind']} {got['target']} follows "
               f"{got['bucket']}")


def _say_sync(s: dict[str, Any]) -> None:
    if s["up_to_date"]:
        typer.echo(f"{s['bucket']}: already at v{s['version']}")
        return
    typer.echo(f"{s['bucket']} v{s['held']} -> v{s['version']} from {s['source']}: "
               f"{s['fetched']} pieces fetched, {s['present']} already here, "
               f"{human_size(s['bytes_received'])} received in {s['seconds']:.1f} s")
    for d in s["dropped"]:
        typer.echo(f"  dropped {d}", err=True)


@subscription_app.command("ls")
def sub_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    rows = call("GET", "/subscriptions")["subscriptions"]
    print_listing(rows, as_json=as_json, empty="no subscriptions; `kiln subscribe OWNER/NAME "
                  "--to VOLUME`", columns=["id", "bucket", "target", "version", "state",
                                           "last sync", "from"],
                  row=lambda s: [str(s["id"]), s["bucket"], f"{s['target_kind']} {s['target']}",
                                 str(s["version"]), "paused" if s["paused"] else
                                 ("error: " + s["last_error"][:40] if s["last_error"] else
                                  "following"),
                                 short_time(s["last_sync_at"]) if s["last_sync_at"] else "-",
                                 ", ".join(s["sources"])])


@subscription_app.command("pause")
def sub_pause(sid: int = typer.Argument(..., metavar="ID")) -> None:
    call("PATCH", f"/subscriptions/{sid}", json={"paused": True})
    typer.echo(f"subscription {sid} paused")


@subscription_app.command("resume")
def sub_resume(sid: int = typer.Argument(..., metavar="ID")) -> None:
    call("PATCH", f"/subscriptions/{sid}", json={"paused": False})
    typer.echo(f"subscription {sid} follows again")


@subscription_app.command("rm")
def sub_rm(sid: int = typer.Argument(..., metavar="ID")) -> None:
    """Stop following; what arrived stays."""
    call("DELETE", f"/subscriptions/{sid}")
    typer.echo(f"subscription {sid} removed")


@subscription_app.command("sync")
def sub_sync(sid: int = typer.Argument(..., metavar="ID"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Bring it to the bucket's newest version now (a cut-off sync resumes)."""
    from kiln.client import Client

    remote = Client.from_env(or_login=True)
    if remote is not None:
        with remote:
            got = remote.request("POST", f"/subscriptions/{sid}/sync").json()
    else:  # here: run it in this process, with progress
        from kiln.cli import runtime
        from kiln.identity.model import LOCAL
        from kiln.registry import sync

        batch = int(os.environ.get("KILN_SYNC_BATCH_BYTES") or sync.BATCH_BYTES)
        got = sync.sync(runtime(), sid, who=LOCAL, force=True, batch_bytes=batch,
                        progress=lambda m: print(m, file=sys.stderr, flush=True)).to_dict()
    if as_json:
        print_json(got)
    else:
        _say_sync(got)


@models_app.command("register")
def models_register(source: str = typer.Argument(None, metavar="RUN/STEP[/OUTPUT]"),
                    name: str = typer.Option(..., "--name", help="The model's name."),
                    study: str = typer.Option(None, "--study",
                                              help="Or a tuning study: its best trial's model."),
                    alias: str = typer.Option(None, "--alias", help="Point this alias at it.")
                    ) -> None:
    """Add a version of a model, with the run, parameters and data it came from."""
    got = call("POST", "/models", json={"name": name, "source": source, "study": study,
                                        "alias": alias})
    typer.echo(f"{got['uri']} from {got['source']}"
               + (f" ({', '.join(got['aliases'])})" if got["aliases"] else ""))


@models_app.command("ls")
def models_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    rows = call("GET", "/models")["models"]
    print_listing(rows, as_json=as_json, empty="no registered models; `kiln models register`",
                  columns=["model", "versions", "aliases", "updated"],
                  row=lambda m: [m["name"], str(m["versions"]), ", ".join(
                      f"{a}=v{v}" for a, v in m["aliases"].items()) or "-",
                      short_time(m["updated_at"], seconds=False) if m["updated_at"] else "-"])


@models_app.command("show")
def models_show(name: str = typer.Argument(...),
                as_json: bool = typer.Option(False, "--json")) -> None:
    got = call("GET", f"/models/{name}")
    if as_json:
        print_json(got)
        return
    typer.echo(f"model {name}: " + (", ".join(f"{a} -> v{v}" for a, v in
                                              sorted(got["aliases"].items())) or "no aliases"))
    for v in got["versions"]:
        lin = v["lineage"]
        params = ", ".join(f"{k}={val}" for k, val in (lin.get("params") or {}).items())
        typer.echo(f"  v{v['version']}  {short_time(v['created_at'], seconds=False)}  "
                   f"{v['source']}  {human_size(v['artifact']['size'])}"
                   + (f"  [{', '.join(v['aliases'])}]" if v["aliases"] else "")
                   + (f"\n      params: {params}" if params else "")
                   + "".join(f"\n      data {k}: {d['volume']}@{(d['snapshot'] or '-')[:12]}"
                             for k, d in (lin.get("data") or {}).items()))
    for h in got["history"][:10]:
        typer.echo(f"  {short_time(h['at'], seconds=False)} {h['by']}: {h['alias']} -> "
                   + (f"v{h['version']}" if h["version"] else "removed"))


@models_app.command("alias")
def models_alias(name: str = typer.Argument(...), alias: str = typer.Argument(...),
                 version: int = typer.Argument(None, help="Leave out with --rm."),
                 remove: bool = typer.Option(False, "--rm", help="Remove the alias.")) -> None:
    """Move an alias (production, staging) to a version; its history is kept."""
    from kiln.errors import UserError

    if remove == (version is not None):
        raise UserError("give a VERSION, or --rm to remove the alias", where="VERSION")
    if remove:
        call("DELETE", f"/models/{name}/aliases/{alias}")
        typer.echo(f"{name}: alias {alias} removed")
        return
    call("PUT", f"/models/{name}/aliases/{alias}", json={"version": version})
    typer.echo(f"{name}: {alias} -> v{version}")


