"""`kiln serve`: model servers in the foreground or as managed services, and KServe export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from kiln.cli import output
from kiln.cli.groups import default_to

serve_app = typer.Typer(
    cls=default_to("start"),
    help="Serve models over the Open Inference Protocol (V2) and V1, like KServe: "
         "`kiln serve MODEL` starts a server.",
    no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")


_MODEL_HELP = ("RUN/STEP/NAME (a run's output, e.g. latest/train/model), a model file or "
               "folder (.joblib .pkl .ubj .json .txt .pt), a registered model "
               "(models:/NAME@ALIAS, models:/NAME/3), or predictor.py:Class; "
               "NAME=MODEL to name it. Several serve several models.")


def _model_configs(models: list[str], name: str | None) -> list[Any]:
    from kiln.errors import UserError
    from kiln.serving.config import ModelConfig
    from kiln.serving.loading import default_name, resolve
    from kiln.serving.services import check_name

    if name and len(models) > 1:
        raise UserError("--name names a single model", hint="write NAME=MODEL for each model")
    out = []
    for text in models:
        model_name, sep, source = text.partition("=")
        if not sep:
            model_name, source = name or default_name(text), text
        check_name(model_name, "model name")
        src = resolve(source)
        out.append(ModelConfig(model_name, source if src.kind != "file" else str(src.path)))
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise UserError(f"two models share a name: {', '.join(names)}",
                        hint="name them with NAME=MODEL")
    return out


@serve_app.command("start")
def serve(
    models: list[str] = typer.Argument(..., help=_MODEL_HELP, show_default=False),
    name: str = typer.Option(None, "--name", "-n",
                             help="Model name (and service name with --detach)."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Interface to listen on; 0.0.0.0 opens it to the network."),
    port: int = typer.Option(8080, "--port", "-p", min=0, max=65535, help="0 picks a free port."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, max=64,
                                help="Server processes sharing the port."),
    max_batch_size: int = typer.Option(64, "--max-batch-size", min=1,
                                       help="Rows per model call when batching requests."),
    max_wait_ms: float = typer.Option(0.0, "--max-wait-ms", min=0.0,
                                      help="Wait this long to fill a batch (0: never wait)."),
    max_body: int = typer.Option(64 * 1024 * 1024, "--max-body", min=1024,
                                 help="Largest request body in bytes."),
    detach: bool = typer.Option(False, "--detach", "-d",
                                help="Run as a managed service in the background."),
) -> None:
    """Serve MODEL(s) (the default: `kiln serve MODEL`), in the foreground or --detach."""
    from kiln.serving.config import ServeConfig

    config = ServeConfig(_model_configs(models, name), host=host, port=port, workers=workers,
                         max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                         max_body=max_body)
    if detach:
        from kiln.serving import services

        svc_name = name or config.models[0].name
        info = services.start(config, svc_name)
        _print_service(info, started=True)
        return
    from kiln.serving.server import serve as run_server

    def announce(sock: Any) -> None:
        from kiln.serving.config import base_url

        url = base_url(host, sock.getsockname()[1])
        for m in config.models:
            typer.echo(f"serving {m.name} ({m.source}) at {url}/v2/models/{m.name}/infer",
                       err=True)
        typer.echo(f"{workers} worker(s); Ctrl-C stops", err=True)

    run_server(config, on_bound=announce)


def _print_service(info: Any, *, started: bool = False) -> None:
    from kiln.services.manager import http_get

    status, doc = http_get(info.url + "/v2/health/ready")
    verb = "started" if started else info.status
    typer.echo(f"service {info.name} {verb} at {info.url} (pid {info.pid})")
    for m in info.config.models:
        typer.echo(f"  {m.name}: {info.url}/v2/models/{m.name}/infer")
    if status != 200:
        typer.echo(f"  not ready: {doc.get('error', 'no answer')}", err=True)
    typer.echo(f"  logs: kiln serve logs {info.name}   stop: kiln serve stop {info.name}")


@serve_app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List managed model services."""
    from rich.table import Table

    from kiln.serving import services

    infos = services.list_services()
    rows = []
    for info in infos:
        d = info.to_dict()
        d["requests"] = services.request_count(info)
        rows.append(d)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(show_edge=False)
    for col in ("name", "status", "url", "models", "workers", "requests"):
        table.add_column(col)
    colour = {"running": "green", "stopped": "dim", "exited": "red", "failed": "red"}
    for d in rows:
        models = "; ".join(
            f"{m['name']} v{m['version']} {m['model']}"
            + (f" + canary v{m['canary_version']} {m['canary_percent']}%" if m["canary"] else "")
            for m in d["models"])
        table.add_row(d["name"], f"[{colour.get(d['status'], '')}]{d['status']}[/]", d["url"],
                      models, str(d["workers"]),
                      "" if d["requests"] is None else str(d["requests"]))
    output.console().print(table if rows else
                           "no services: start one with `kiln serve MODEL --detach`")


@serve_app.command("logs")
def logs(name: str = typer.Argument(..., help="Service name."),
         tail: int = typer.Option(0, "--tail", "-t", min=0, help="Only the last N lines.")) -> None:
    """Print a service's log."""
    from kiln.serving import services

    path = Path(services.get(name).log_path)
    text = path.read_text(errors="replace") if path.exists() else ""
    if tail:
        text = "\n".join(text.splitlines()[-tail:]) + "\n"
    sys.stdout.write(text)


@serve_app.command("stop")
def stop(name: str = typer.Argument(..., help="Service name.")) -> None:
    """Stop a managed service (gracefully, then by force after 15 s)."""
    from kiln.serving import services

    info = services.stop(name)
    typer.echo(f"service {info.name} {info.status}")


@serve_app.command("update")
def update(
    name: str = typer.Argument(..., help="Service name."),
    model: str = typer.Argument(None, help=_MODEL_HELP + " Default: the model's own "
                                "models:/NAME@ALIAS, looked up again."),
    canary: int = typer.Option(None, "--canary", min=1, max=99,
                               help="Send this percent of traffic to the new model; "
                                    "then `kiln serve promote` or `rollback`."),
    model_name: str = typer.Option(None, "--model", help="Which model, if it serves several."),
) -> None:
    """Serve a new model version: all traffic at once, or a canary share of it."""
    from kiln.serving import services

    info = services.update(name, model, canary=canary, model=model_name)
    _print_versions(info)


@serve_app.command("promote")
def promote(name: str = typer.Argument(..., help="Service name."),
            model_name: str = typer.Option(None, "--model")) -> None:
    """Give the canary all traffic."""
    from kiln.serving import services

    _print_versions(services.promote(name, model=model_name))


@serve_app.command("rollback")
def rollback(name: str = typer.Argument(..., help="Service name."),
             model_name: str = typer.Option(None, "--model")) -> None:
    """Drop the canary; the previous model takes all traffic."""
    from kiln.serving import services

    _print_versions(services.rollback(name, model=model_name))


def _print_versions(info: Any) -> None:
    for m in info.config.models:
        line = f"{info.name}/{m.name}: v{m.version} {m.source}"
        if m.canary is not None:
            line += f" ({100 - m.canary_percent}%), canary v{m.canary_version} {m.canary} " \
                    f"({m.canary_percent}%)"
        typer.echo(line)


@serve_app.command("export")
def export(
    model: str = typer.Argument(..., help=_MODEL_HELP),
    kserve: bool = typer.Option(False, "--kserve", help="Write a KServe InferenceService."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the manifest."),
    name: str = typer.Option(None, "--name", "-n", help="InferenceService name."),
    namespace: str = typer.Option(None, "--namespace"),
    storage_uri: str = typer.Option(None, "--storage-uri",
                                    help="Where the cluster reads the model (s3://, gs://, "
                                         "pvc://...); s3:// uploads it there."),
    protocol: str = typer.Option("v2", "--protocol", help="v1 or v2."),
    cpu: str = typer.Option("1", "--cpu"),
    memory: str = typer.Option("2Gi", "--memory"),
) -> None:
    """Export a model for a cluster: `--kserve` writes an InferenceService v1beta1."""
    from kiln.errors import UserError
    from kiln.serving import kserve as ks

    if not kserve:
        raise UserError("say which format to export", hint="use --kserve")
    result = ks.export(model, output, name=name, namespace=namespace, storage_uri=storage_uri,
                       protocol=protocol, cpu=cpu, memory=memory)
    typer.echo(f"wrote {output}: InferenceService {result.name} ({result.model_format}, "
               f"{result.storage_uri})")
    if result.uploaded:
        typer.echo(f"uploaded {result.uploaded}")
    if result.local_copy:
        typer.echo(f"copy {result.local_copy} to {result.storage_uri} before applying")
