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
           auth: bool = typer.Option(
               False, "--auth", help="Users sign in: accounts, groups, roles per namespace, "
                                     "tokens (docs/security.md). Needed beyond loopback."),
           proxy_user_header: str = typer.Option(
               None, "--proxy-user-header", metavar="HEADER",
               help="With --auth: believe this header's user name (e.g. kubeflow-userid) "
                    "from the --trusted-proxy addresses, and only from them."),
           proxy_user_prefix: str = typer.Option(
               "", "--proxy-user-prefix", help="The prefix the proxy puts before the name "
                                               "(e.g. accounts.google.com:)."),
           trusted_proxy: list[str] = typer.Option(
               [], "--trusted-proxy", metavar="ADDRESS",
               help="An address or network of the authenticating proxy (repeatable)."),
           insecure: bool = typer.Option(
               False, "--insecure", help="Allow binding beyond loopback without --auth "
                                         "(something in front of it authenticates).")
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
    if not loopback and not auth and not insecure:
        raise UserError(f"binding to {host} without --auth lets anyone who reaches it in"
                        + (" with one shared token" if token else ""), where="--host",
                        hint="add --auth (users sign in; the token stays an admin token for "
                             "scripts), or pass --insecure when something in front of it "
                             "authenticates")
    if proxy_user_header and not trusted_proxy:
        raise UserError("--proxy-user-header needs --trusted-proxy: a header anyone can send "
                        "proves nothing", where="--proxy-user-header",
                        hint="give the proxy's address, e.g. --trusted-proxy 10.0.0.5")
    if (proxy_user_header or trusted_proxy) and not auth:
        raise UserError("a trusted proxy's users need --auth", where="--proxy-user-header")
    from kiln.server.auth import Authenticator

    try:
        authenticator = Authenticator(
            identity=auth, token=token, proxy_header=(proxy_user_header or "").lower() or None,
            proxy_prefix=proxy_user_prefix, trusted_proxies=tuple(trusted_proxy)
        ) if auth or token else None
    except ValueError as e:
        raise UserError(f"{e}", where="--trusted-proxy",
                        hint="an address or network, e.g. 10.0.0.5 or 10.0.0.0/24") from None
    # Bind before saying where: a busy port fails here, before any URL is printed.
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    needs = "; users sign in" if auth else "; token required" if token else ""
    typer.echo(f"kiln dashboard on http://{shown}:{bound}/  (REST API: /api/v1, "
               f"OpenAPI: /openapi.json{needs})")
    if auth:
        _first_admin()
    config = uvicorn.Config(create_app(scheduler=scheduler, auth=authenticator),
                            log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _first_admin() -> None:
    """On a server's first start with --auth: an admin account, and the default namespace
    owned by it. The password is KILN_ADMIN_PASSWORD if set, else made up and written to a
    file only its owner can read — not printed, so it stays out of logs."""
    import os
    import secrets

    from kiln.cli import runtime
    from kiln.home import DEFAULT_NAMESPACE
    from kiln.identity import accounts, namespaces
    from kiln.identity.model import identity_catalog

    rt = runtime()
    cat = identity_catalog(rt)
    if accounts.count_users(cat):
        return
    given = os.environ.get("KILN_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(18)
    accounts.add_user(cat, "admin", password=password, admin=True)
    namespaces.create(cat, DEFAULT_NAMESPACE, "admin")
    if given:
        typer.echo("first start: made the server admin 'admin' with KILN_ADMIN_PASSWORD")
        return
    from kiln.files import write_private

    path = rt.home.base / "initial-admin-password"
    write_private(path, password + "\n")
    typer.echo(f"first start: made the server admin 'admin'; its password is in {path} "
               "(readable by you only). Sign in, then set your own with "
               "`kiln user passwd admin` and delete that file.")


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
