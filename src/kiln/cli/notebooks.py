"""`kiln notebook start|ls|stop`: JupyterLab servers working in a volume."""

from __future__ import annotations

import sys
from typing import Any

import typer

from kiln.cli import output, runtime

notebook_app = typer.Typer(help="JupyterLab servers in volumes.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(notebook_app, name="notebook")


@notebook_app.command("start")
def start(volume: str = typer.Option(None, "--volume",
                                     help="Work in this volume's folder (default: a new one)."),
          name: str = typer.Option(None, "--name", help="Default: the volume's name."),
          port: int = typer.Option(None, "--port", help="Default: a free port.")) -> None:
    """Start JupyterLab on 127.0.0.1 and print the address to open."""
    from kiln.services import notebooks as servers

    with _status("starting JupyterLab"):
        nb = servers.start(name=name, volume=volume, port=port, rt=runtime())
    typer.echo(f"notebook server {nb.name} in {nb.root}\nopen {nb.open_url}\n"
               f"stop it with `kiln notebook stop {nb.name}`")


def _status(text: str) -> Any:  # a Rich status on a terminal, nothing otherwise
    import contextlib

    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    return output.console(stderr=True).status(text)


@notebook_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json")) -> None:
    """Notebook servers with their state and address."""
    from kiln.cli.output import print_listing
    from kiln.services import notebooks as servers

    print_listing(servers.list_servers(rt=runtime()), as_json=as_json,
                  columns=("name", "status", "volume", "open"),
                  row=lambda n: (n.name, n.status, n.volume or "",
                                 n.open_url if n.status == "running" else ""),
                  empty="no notebook servers: `kiln notebook start --volume V`")


@notebook_app.command("stop")
def stop(name: str = typer.Argument(...)) -> None:
    """Stop a server and its kernels; the files stay in the volume."""
    from kiln.services import notebooks as servers

    nb = servers.stop(name, rt=runtime())
    typer.echo(f"notebook server {nb.name} {nb.status}")
