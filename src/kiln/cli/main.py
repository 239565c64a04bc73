"""The `kiln` command. Sub-command modules import the heavy parts only when they run."""

from __future__ import annotations

import sys

import typer

from kiln._version import __version__
from kiln.cli import status

app = typer.Typer(
    name="kiln",
    help="kilnflow: notebooks and Python functions become pipelines on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kilnflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    namespace: str = typer.Option(None, "--namespace", metavar="NS",
                                  help="Work in this namespace (default: KILN_NAMESPACE, "
                                       "else 'default')."),
) -> None:
    """kilnflow: run notebooks and Python pipelines locally; compile them to Kubeflow."""
    if namespace is not None:
        import os

        from kiln.home import check_namespace

        # Through the environment: every Runtime.open() here, and every process a command
        # starts (steps, background runs, servers), then works in the namespace.
        os.environ["KILN_NAMESPACE"] = check_namespace(namespace)


def _register() -> None:
    from kiln.cli import (
        automl,
        notebooks,
        pipelines,
        registry,
        runs,
        schedules,
        serve,
        server,
        snapshots,
        store,
        tune,
        volumes,
    )

    pipelines.register(app)
    registry.register(app)
    runs.register(app)
    serve.register(app)
    tune.register(app)
    automl.register(app)
    volumes.register(app)
    snapshots.register(app)
    store.register(app)
    server.register(app)
    schedules.register(app)
    notebooks.register(app)


def main(argv: list[str] | None = None) -> None:
    from kiln.errors import KilnError, NotFoundError, UserError

    _register()
    try:
        app(args=argv, prog_name="kiln")
    except KilnError as e:
        from rich.console import Console

        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]error:[/] {e.message}", markup=True)
        if e.where:
            err.print(f"  at {e.where}", markup=False)
        if e.hint:
            err.print(f"  hint: {e.hint}", markup=False)
        if isinstance(e, NotFoundError):
            sys.exit(status.NOT_FOUND)
        sys.exit(status.USER_ERROR if isinstance(e, UserError) else status.RUN_FAILED)
