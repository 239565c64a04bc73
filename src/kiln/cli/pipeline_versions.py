"""`kiln pipeline upload|ls|show`: pipelines kept as numbered versions, runnable from the
dashboard and the REST API."""

from __future__ import annotations

from pathlib import Path

import typer

from kiln.cli import remote, runtime

pipeline_app = typer.Typer(help="Uploaded pipelines and their versions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("upload")
def upload(target: str = typer.Argument(..., metavar="PATH",
                                        help="A notebook, spec.json, module.py, or "
                                             "module.py:function as `kiln run` takes it."),
           name: str = typer.Option(None, "--name", help="Default: the pipeline's own name."),
           entry: str = typer.Option("", "--entry", help="module.py: the @kiln.pipeline."),
           message: str = typer.Option("", "--message", "-m")) -> None:
    """Add a version of a pipeline (compiled now, so a broken file is refused)."""
    from kiln.engine import versions
    from kiln.errors import UserError

    path = Path(target)
    if not path.is_file() and ":" in target:
        # module.py:function, as kiln run takes it: the same as --entry function
        file, _, function = target.rpartition(":")
        if file.endswith(".py") and function.isidentifier():
            if entry and entry != function:
                raise UserError(f"{target} names '{function}' but --entry says '{entry}'",
                                where="--entry", hint="give the function one way")
            path, entry = Path(file), function
    if not path.is_file():
        raise UserError(f"no such file: {path}", where=str(path))
    client = remote()
    if client is not None:
        v = client.upload_pipeline(path, name=name, entry=entry, message=message)
    else:
        v = versions.upload(path.read_bytes(), path.name, name=name, entry=entry,
                            message=message).to_dict()
    typer.echo(f"pipeline {v['pipeline']} version {v['number']} "
               f"({len(v['graph']['nodes'])} steps)")


@pipeline_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json")) -> None:
    """Pipelines with their number of versions and runs."""
    from kiln.catalog.pipelines import list_pipelines
    from kiln.cli.output import print_listing, short_time

    client = remote()
    found = client.pipelines() if client is not None else \
        [p.to_dict() for p in list_pipelines(runtime().catalog)]
    print_listing(found, as_json=as_json, columns=("pipeline", "versions", "latest", "runs"),
                  row=lambda p: (p["name"], str(p["versions"]),
                                 short_time(p["latest"]["created_at"], seconds=False)
                                 if p["latest"] else "", str(p["runs"])),
                  empty="no pipelines yet: `kiln pipeline upload FILE` adds one")
