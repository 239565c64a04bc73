"""The `kiln` command. Sub-command modules import the heavy parts only when they run."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import typer

from kiln._version import __version__
from kiln.cli import output, status

app = typer.Typer(
    name="kiln",
    help="kilnflow: notebooks and Python functions become pipelines on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # kiln --install-completion; shellingham loads only when asked
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
        identity,
        notebooks,
        pipeline_versions,
        pipelines,
        runs,
        schedules,
        serve,
        server,
        sharing,
        snapshots,
        store,
        tune,
        volumes,
    )

    pipelines.register(app)
    pipeline_versions.register(app)
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
    identity.register(app)
    sharing.register(app)


def command_path(args: list[str], groups: set[str]) -> str:
    """'runs ls' for `kiln --namespace a runs ls -n 5`; 'run' for `kiln run x.py`."""
    words: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "--namespace" and not words:
            skip = True
        elif not a.startswith("-"):
            words.append(a)
            if len(words) == (2 if words[0] in groups else 1):
                break
    return " ".join(words)


def _check_remote(args: list[str]) -> None:
    """With KILN_URL set, a command that has no remote form must not quietly work on this
    machine's home instead of the server's."""
    import os

    from kiln.cli import HOMELESS_COMMANDS, REMOTE_COMMANDS
    from kiln.errors import UserError

    if not os.environ.get("KILN_URL") or "--help" in args:
        return
    path = command_path(args, {g.name for g in app.registered_groups if g.name})
    if not path or path in REMOTE_COMMANDS or path.split()[0] in HOMELESS_COMMANDS:
        return
    raise UserError(f"`kiln {path}` works on this machine's KILN_HOME and has no remote form; "
                    f"KILN_URL is set to {os.environ['KILN_URL']}", where="KILN_URL",
                    hint="unset KILN_URL to run it here, or run it where the server runs; "
                         "remote commands: " + ", ".join(sorted(REMOTE_COMMANDS)))


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings as the user's message, without Python's source-line echo: the message says
    where (notebook cell, file and line) itself."""
    sys.stderr.write(f"warning: {message}\n")


def main(argv: list[str] | None = None) -> None:
    from kiln.errors import KilnError, NotFoundError, UserError

    _register()
    warnings.showwarning = _show_warning
    try:
        _check_remote(sys.argv[1:] if argv is None else argv)
        app(args=argv, prog_name="kiln")
    except KilnError as e:
        err = output.console(stderr=True)
        err.print("[bold red]error:[/] " + output.lit(e.message), markup=True)
        if e.where:
            err.print(f"  at {e.where}", markup=False)
        if e.hint:
            err.print(f"  hint: {e.hint}", markup=False)
        if isinstance(e, NotFoundError):
            sys.exit(status.NOT_FOUND)
        sys.exit(status.USER_ERROR if isinstance(e, UserError) else status.RUN_FAILED)
