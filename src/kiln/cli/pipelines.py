"""`kiln run`, `kiln compile`, `kiln demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kiln.cli import output, remote, status
from kiln.cli.options import VOLUME_HELP, volume_bindings

if TYPE_CHECKING:
    from rich.console import Console

    from kiln.client import Client
    from kiln.engine.result import Run

_TARGET_HELP = "A notebook (.ipynb), module.py[:pipeline] or spec.json."


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("compile")(compile_)
    app.command("demo")(demo)
    app.command("submit")(submit)


def run(
    target: str | None = typer.Argument(None, help=_TARGET_HELP + " (omit with --resume)"),
    param: list[str] = typer.Option([], "--param", "-p", help="NAME=VALUE, repeatable."),
    snapshot: bool | None = typer.Option(None, "--snapshot/--no-snapshot",
                                  help="Snapshot mounted volumes before the first step and "
                                       "after every step (default: autosnapshot metadata)."),
    resume: str | None = typer.Option(None, "--resume", help="Re-run part of this recorded run."),
    from_step: str | None = typer.Option(None, "--from",
                                         help="With --resume: the step to start at."),
    parallelism: int = typer.Option(0, "--parallelism", min=0,
                                    help="Steps at once (default: CPU count)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, reuse nothing."),
    experiment: str = typer.Option("", "--experiment", "-e", help="Record under this experiment."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Don't stream step logs."),
    label: list[str] = typer.Option([], "--label", "-l", help="KEY=VALUE, repeatable."),
    name: str | None = typer.Option(None, "--name", "-n",
                                    help="A readable name shown beside the run's id, which "
                                         "kiln runs show NAME finds (default: made up)."),
    volume: list[str] = typer.Option([], "--volume", help=VOLUME_HELP),
    run_id: str | None = typer.Option(None, "--run-id", hidden=True),
    version_id: int | None = typer.Option(None, "--pipeline-version-id", hidden=True),
    parent: str | None = typer.Option(None, "--parent-run", hidden=True),
) -> None:
    """Run a pipeline on this machine."""
    from kiln.engine.api import resume as resume_run
    from kiln.engine.api import run as run_pipeline
    from kiln.engine.progress import LiveObserver, PlainObserver
    from kiln.errors import UserError
    from kiln.names import check_name
    from kiln.spec.params import parse_assignments

    console = output.console()
    observer = (LiveObserver if console.is_terminal else PlainObserver)(console,
                                                                         show_logs=not quiet)
    if name is not None:
        check_name("run", name)
    if (resume is None) != (from_step is None):
        raise UserError("--resume RUN and --from STEP go together",
                        hint="kiln run --resume RUN --from STEP [-p NAME=VALUE]")
    if (resume is None) == (target is None):
        raise UserError("give a pipeline to run, or --resume RUN --from STEP (not both)")
    labels = parse_assignments(label, what="label", example="-l team=vision")
    bindings = volume_bindings(volume)
    client = remote()
    if client is not None:
        local_only = {"--snapshot/--no-snapshot": snapshot is not None, "--volume": bool(volume),
                      "--parallelism": bool(parallelism), "--no-cache": no_cache}
        for option, given in local_only.items():
            if given:
                raise UserError(f"{option} is for runs on this machine; KILN_URL is set",
                                where=option, hint="the server runs with its own settings; "
                                                   "unset KILN_URL to run here")
        _run_remote(client, console, target, parse_assignments(param), resume, from_step,
                    experiment or None, labels, quiet, name)
        return
    if run_id is not None:
        # Started in the background, where SIGINT may be ignored; cancelling
        # (kiln.engine.launch.cancel) sends SIGINT, so take it back.
        import signal

        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if resume is not None and from_step is not None:  # both or neither, checked above
            result = resume_run(resume, from_step, parse_assignments(param),
                                parallelism=parallelism or None, observer=observer,
                                labels=labels, run_id=run_id, name=name)
        else:
            result = run_pipeline(target, parse_assignments(param),
                                  parallelism=parallelism or None, cache=not no_cache,
                                  experiment=experiment or None, observer=observer,
                                  snapshot=snapshot, labels=labels, run_id=run_id,
                                  pipeline_version_id=version_id, parent_run_id=parent,
                                  volumes=bindings, name=name)
    except KeyboardInterrupt:
        console.print("[magenta]cancelled[/]: running steps were stopped")
        raise typer.Exit(status.CANCELLED) from None
    _summary(console, result)
    if result.status != "succeeded":
        raise typer.Exit(status.RUN_FAILED)


def _summary(console: Console, result: Run | dict[str, Any]) -> None:
    """How a run ended (a Run here, or the API's dict of one on a server)."""
    r: dict[str, Any] = result if isinstance(result, dict) else \
        {"id": result.id, "name": result.name, "status": result.status,
         "metrics": result.metrics, "error": result.error}
    style = "green" if r["status"] == "succeeded" else "red"
    named = f" ({output.lit(r['name'])})" if r.get("name") else ""
    console.print(f"run [bold]{r['id']}[/]{named} [{style}]{r['status']}[/]")
    if r["metrics"]:
        console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items()))
    if r["error"]:
        console.print(f"[red]{output.lit(r['error'])}[/]", markup=True)
    console.print(f"details: kiln runs show {r['id']}   logs: kiln logs {r['id']}")


def _run_remote(client: Client, console: Console, target: str | None, params: dict[str, str],
                resume: str | None, from_step: str | None, experiment: str | None,
                labels: dict[str, str], quiet: bool, name: str | None = None) -> None:
    """`kiln run` with KILN_URL: upload the pipeline as a new version, start it on the server,
    and follow it there (states, and each step's log unless --quiet). Ctrl-C cancels it."""
    from kiln.engine.targets import split_target
    from kiln.errors import UserError

    if resume is not None:
        run = client.resume(resume, from_step or "", params, name=name)
    else:
        assert target is not None
        file, entry = split_target(target)
        if not file.is_file():
            raise UserError(f"{file} is not a file", where=target,
                            hint="give a notebook, module.py[:pipeline] or spec.json")
        version = client.upload_pipeline(file, entry=entry, reuse=True)
        run = client.start_run(version["pipeline"], version=version["number"], params=params,
                               experiment=experiment, labels=labels, name=name)
        console.print(f"pipeline {version['pipeline']} version {version['number']} "
                      f"on {client.url}", markup=False)
    console.print(f"run [bold]{run['id']}[/] started on {client.url}")
    seen: dict[str, str] = {}
    offsets: dict[str, int] = {}

    def follow(info: dict[str, Any]) -> None:
        for t in info["tasks"]:
            step, state = t["step"], t["status"]
            if not quiet and state != "queued" and state != "cached":
                text = _remote_log_tail(client, info["id"], step, offsets)
                for line in text.splitlines():
                    console.print(f"[dim]{output.lit(step)}[/] | {output.lit(line)}",
                                  markup=True)
            if seen.get(step) != state:
                seen[step] = state
                if state != "queued":
                    console.print(f"[bold]{output.lit(step)}[/]: {state}")

    try:
        final = client.wait(run["id"], on_poll=follow)
    except KeyboardInterrupt:
        client.cancel(run["id"])
        console.print(f"[magenta]cancelled[/]: run {run['id']} is being stopped on the server")
        raise typer.Exit(status.CANCELLED) from None
    _summary(console, final)
    if final["status"] != "succeeded":
        raise typer.Exit(status.RUN_FAILED)


def _remote_log_tail(client: Client, run_id: str, step: str, offsets: dict[str, int]) -> str:
    """What the step's log gained since the last call."""
    from kiln.errors import NotFoundError

    try:
        text = client.logs(run_id, step, offsets.get(step, 0))
    except NotFoundError:
        return ""
    offsets[step] = offsets.get(step, 0) + len(text.encode())
    return text


def compile_(
    target: str = typer.Argument(..., help=_TARGET_HELP),
    output: Path = typer.Option(None, "--output", "-o",
                                help="Write here (default: stdout)."),
    to: str = typer.Option("spec", "--target", "-t",
                           help="spec (kilnflow's PipelineSpec JSON) or kfp (a Kubeflow "
                                "Pipelines v2 package, IR YAML)."),
    image: str = typer.Option(None, "--image", help="Container image for the KFP steps "
                                                    "(default: docker_image metadata, else "
                                                    "python:3.11; each step installs what the "
                                                    "image lacks)."),
    katib: bool = typer.Option(False, "--katib", help="A Katib Experiment whose trials run "
                                                      "the compiled Kubeflow pipeline."),
    param: list[str] = typer.Option([], "--param", "-p",
                                    help="With --katib: fix a pipeline parameter, NAME=VALUE."),
    config: Path = typer.Option(None, "--config", "-c",
                                help="With --katib: the study's YAML (default: the notebook's "
                                     "katib_metadata)."),
    requirements: Path = typer.Option(None, "--requirements", "-r",
                                      help="A pip requirements file: its pins replace the "
                                           "captured ones and are added to every step."),
    kiln_package: str = typer.Option(None, "--kiln-package",
                                     help="Where steps get kilnflow's runtime: a wheel path, "
                                          "an http(s) URL or a requirement (kilnflow==X). "
                                          "Default: a wheel of this kilnflow, in KILN_STORE."),
    explain: bool = typer.Option(False, "--explain",
                                 help="List, per step, what each import resolved to and "
                                      "every package its container installs."),
) -> None:
    """Compile a notebook or module to a PipelineSpec (JSON), a Kubeflow Pipelines package
    (--target kfp) or a Katib Experiment (--katib)."""
    from kiln.engine.api import compile as compile_spec
    from kiln.errors import UserError

    spec = compile_spec(target)
    shipment = None
    if katib or to == "kfp":
        shipment = _ship(spec, requirements, kiln_package, explain=explain,
                         to_stderr=output is None)
    if katib:
        from kiln.spec.params import parse_assignments
        from kiln.tune.katib import experiment_yaml

        text = experiment_yaml(spec, target, image=image, config=config,
                               params=parse_assignments(param), shipment=shipment)
        what = "Katib Experiment"
    elif to == "kfp":
        from kiln.engine.kfp.compiler import compile_kfp, dump

        text = dump(compile_kfp(spec, image=image, shipment=shipment))
        what = "KFP v2 pipeline"
    elif to == "spec":
        text = spec.to_json() + "\n"
        what = "PipelineSpec"
    else:
        raise UserError(f"unknown compile target '{to}'", hint="use spec or kfp")
    if output is None:
        sys.stdout.write(text)
        return
    from kiln.files import atomic_path

    with atomic_path(output) as tmp:
        tmp.write_text(text)
    typer.echo(f"wrote {output}: {what} ({len(spec.steps)} steps, "
               f"{len(spec.parameters)} parameters)")


def _ship(spec: Any, requirements: Path | None, kiln_package: str | None, *, explain: bool,
          to_stderr: bool) -> Any:
    """Capture and ship what the compiled steps need, and say what each will install (on
    stderr when the package itself goes to stdout)."""
    from kiln.engine.kfp.environment import read_requirements
    from kiln.engine.kfp.shipping import ship_spec

    lines = read_requirements(requirements) if requirements is not None else []
    shipment = ship_spec(spec, requirements=lines, kiln_package=kiln_package)
    for line in shipment.summary(explain=explain):
        typer.echo(line, err=to_stderr)
    return shipment


def submit(
    target: str = typer.Argument(..., help=_TARGET_HELP),
    host: str = typer.Option(..., "--host", help="The Kubeflow Pipelines API, e.g. "
                                                 "http://localhost:8888."),
    experiment: str = typer.Option(None, "--experiment", "-e",
                                   help="KFP experiment (default: the pipeline's)."),
    param: list[str] = typer.Option([], "--param", "-p", help="NAME=VALUE, repeatable."),
    token: str = typer.Option(None, "--token", help="Bearer token (default: "
                                                    "$KF_PIPELINES_TOKEN)."),
    recurring: str = typer.Option(None, "--recurring",
                                  help="Create a recurring run on this cron schedule."),
    image: str = typer.Option(None, "--image", help="Container image for the steps."),
    requirements: Path = typer.Option(None, "--requirements", "-r",
                                      help="A pip requirements file: its pins replace the "
                                           "captured ones and are added to every step."),
    kiln_package: str = typer.Option(None, "--kiln-package",
                                     help="Where steps get kilnflow's runtime: a wheel path, "
                                          "an http(s) URL or a requirement (kilnflow==X)."),
) -> None:
    """Upload the pipeline to Kubeflow Pipelines as a new version and start a run."""
    from kiln.engine.api import compile as compile_spec
    from kiln.engine.kfp.submit import submit as submit_spec
    from kiln.spec.params import parse_assignments

    spec = compile_spec(target)
    out = submit_spec(spec, host=host, params=parse_assignments(param), experiment=experiment,
                      token=token, recurring=recurring, image=image,
                      ship=lambda: _ship(spec, requirements, kiln_package, explain=False,
                                         to_stderr=True))
    if out.recurring_run_id:
        typer.echo(f"recurring run {out.recurring_run_id} ({recurring}) of pipeline "
                   f"{out.pipeline_id} version {out.version_id}")
    else:
        typer.echo(f"run {out.run_id} of pipeline {out.pipeline_id} version {out.version_id}: "
                   f"{out.url}")


def demo(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Don't stream step logs."),
) -> None:
    """Run the demo pipeline (a DataFrame and a trained model passed between steps), keep its
    data in a versioned volume with a snapshot, serve the trained model over the V2 inference
    protocol and ask it for predictions, then tune it with a small study whose trials are
    pipeline runs."""
    from kiln.demo import pipeline as demo_pipeline

    run(target=f"{demo_pipeline.__file__}:churn", param=[], parallelism=0, no_cache=False,
        experiment="", quiet=quiet, snapshot=None, resume=None, from_step=None, label=[], volume=[],
        run_id=None, version_id=None, parent=None, name="demo-churn")
    _demo_snapshot()
    _demo_serve()
    _demo_tune(f"{demo_pipeline.__file__}:churn")
    typer.echo("see it all in a browser: kiln server   (then open http://127.0.0.1:8765/)")


def _demo_tune(target: str) -> None:
    """A small study: every trial a run; `featurize` and `load_data` come from the cache."""
    from kiln.tune.api import tune
    from kiln.tune.progress import LiveStudyObserver, PlainStudyObserver

    console = output.console()
    observer = (LiveStudyObserver if console.is_terminal else PlainStudyObserver)(console)
    study = tune(target, space={"max_depth": (3, 12), "n_estimators": (20, 150)},
                 objective="roc_auc", trials=6, parallel=2, algorithm="tpe", seed=0,
                 observer=observer)
    best = study.best
    if best is not None:
        typer.echo(f"tuned: best roc_auc {best.value:.4f} with {best.params} (run {best.run_id}); "
                   f"see `kiln tune show {study.name}`")


def _demo_snapshot() -> None:
    """Put the run's customer table into the volume `demo-data` and snapshot it."""
    import kiln
    from kiln.cli.output import human_size
    from kiln.errors import NotFoundError
    from kiln.volumes import snapshots, volumes

    result = kiln.get_run("latest")
    try:
        volumes.get("demo-data")
    except NotFoundError:
        volumes.create("demo-data")
    table = result.output("load_data")
    volumes.put_bytes("demo-data", "customers.csv", table.to_csv(index=False).encode())
    snap = snapshots.create("demo-data", f"customers from run {result.id[:8]}")
    typer.echo(f"snapshot {snap.short} of volume demo-data: {snap.files} files, "
               f"{human_size(snap.size)}, {human_size(snap.added)} new in the store; see "
               "`kiln snapshot ls demo-data`")


def _demo_serve() -> None:
    import kiln

    result = kiln.get_run("latest")
    ref = f"{result.id}/train/output"
    rows = result.output("featurize", "output_0").head(5)
    with kiln.serve(ref, name="churn") as service:
        served = service.predict(rows.to_numpy(dtype=float)).tolist()
    direct = result.output("train").predict(rows).tolist()
    typer.echo(f"served the model: POST {service.infer_url()} -> {served} "
               f"({'same as' if served == direct else 'DIFFERENT from'} calling it directly)")
    typer.echo(f"serve it yourself: kiln serve {ref} --name churn   (then see "
               "http://127.0.0.1:8080/v2/models/churn)")
