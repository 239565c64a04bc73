"""`kiln server`: the dashboard and the REST API on 127.0.0.1:8765 by default."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import typer

MIN_TOKEN = 32  # characters; a shorter shared secret is guessable on a network


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def server(host: str = typer.Option("127.0.0.1", "--host",
                                    help="Address to bind (loopback unless told otherwise)."),
           port: int = typer.Option(8765, "--port", min=0, max=65535),
           scheduler: bool = typer.Option(
               True, "--scheduler/--no-scheduler",
               help="Also take scheduled snapshots and start recurring runs."),
           token_file: Path = typer.Option(
               None, "--token-file", help="Require the token in this file on API requests "
                                          "(default: KILN_SERVER_TOKEN, if set)."),
           insecure: bool = typer.Option(
               False, "--insecure", help="Allow binding beyond loopback without a token.")
           ) -> None:
    """Serve the dashboard at / and the REST API under /api/v1 (OpenAPI at /openapi.json);
    runs the scheduler too (snapshots, recurring runs), so `kiln scheduler` is not needed."""
    import ipaddress
    import os

    import uvicorn

    from kiln.errors import UserError
    from kiln.server.app import create_app

    token = os.environ.get("KILN_SERVER_TOKEN") or None
    if token_file is not None:
        if not token_file.is_file():
            raise UserError(f"no token file {token_file}", where="--token-file")
        token = token_file.read_text().strip() or None
        if token is None:
            raise UserError(f"the token file {token_file} is empty", where="--token-file")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and token is not None and len(token) < MIN_TOKEN:
        raise UserError(f"the token is {len(token)} characters; a server reachable beyond "
                        f"loopback needs at least {MIN_TOKEN}", where="--token-file",
                        hint="make one with `python -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))'`")
    if not loopback and token is None and not insecure:
        raise UserError(f"binding to {host} without a token lets anyone who reaches it in",
                        where="--host",
                        hint="set KILN_SERVER_TOKEN or --token-file, or pass --insecure when "
                             "something in front of it authenticates")
    # Bind before saying where: a busy port fails here, before any URL is printed.
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"kiln dashboard on http://{shown}:{bound}/  (REST API: /api/v1, "
               f"OpenAPI: /openapi.json{'; token required' if token else ''})")
    config = uvicorn.Config(create_app(scheduler=scheduler, token=token), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    from kiln.errors import UserError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UserError(f"cannot bind to {host}: {e.strerror}", where="--host") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is already in use", where="--port",
                            hint="stop what uses it, or pick another with --port "
                                 "(0 picks a free one)") from None
        raise UserError(f"cannot bind to {host}:{port}: {e.strerror}", where="--host") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
