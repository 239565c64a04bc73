"""`kiln server`: the dashboard and the REST API on 127.0.0.1:8765 by default."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def server(host: str = typer.Option("127.0.0.1", "--host",
                                    help="Address to bind (loopback unless told otherwise)."),
           port: int = typer.Option(8765, "--port", min=0, max=65535),
           scheduler: bool = typer.Option(
               True, "--scheduler/--no-scheduler",
               help="Also take scheduled snapshots and start recurring runs.")) -> None:
    """Serve the dashboard at / and the REST API under /api/v1 (OpenAPI at /openapi.json);
    runs the scheduler too (snapshots, recurring runs), so `kiln scheduler` is not needed."""
    import uvicorn

    from kiln.server.app import create_app

    typer.echo(f"kiln dashboard on http://{host}:{port}/  (REST API: /api/v1, "
               "OpenAPI: /openapi.json)")
    uvicorn.run(create_app(scheduler=scheduler), host=host, port=port, log_level="warning")
