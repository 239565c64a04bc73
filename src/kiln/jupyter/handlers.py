"""The panel's REST endpoints, under BASE/kilnflow/: each one call of kilnflow's API, behind
Jupyter's own authentication (the user's token or cookie, and its XSRF check)."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from kiln.errors import KilnError, NotFoundError


class _Handler(APIHandler):
    def answer(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(value))

    def body(self) -> dict[str, Any]:
        try:
            value = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(value, dict):
            raise web.HTTPError(400, "the body is not a JSON object")
        return value

    def fail(self, e: KilnError) -> None:
        self.answer({"error": {"message": e.message, "where": e.where, "hint": e.hint}},
                    404 if isinstance(e, NotFoundError) else 400)


class Analyse(_Handler):
    @web.authenticated
    def post(self) -> None:
        from kiln.jupyter.analysis import analyse

        body = self.body()
        try:
            self.answer(analyse(body.get("notebook"), name=str(body.get("name") or "")))
        except KilnError as e:
            self.fail(e)


class Run(_Handler):
    @web.authenticated
    def post(self) -> None:
        """Upload the notebook as a new version of its pipeline and run it in the
        background; the answer is the run, to follow with GET runs/ID."""
        from kiln.catalog import runs
        from kiln.engine import launch, versions
        from kiln.runtime import Runtime

        body = self.body()
        notebook, name = body.get("notebook"), str(body.get("name") or "notebook.ipynb")
        if not isinstance(notebook, dict):
            self.answer({"error": {"message": "send the notebook", "where": "notebook",
                                   "hint": None}}, 400)
            return
        try:
            rt = Runtime.open()
            version = versions.upload(json.dumps(notebook).encode(), name.rsplit("/", 1)[-1],
                                      message="from JupyterLab", reuse=True, rt=rt)
            run_id = launch.run_version(version.pipeline, version.number,
                                        body.get("params") or {}, rt=rt)
            self.answer(runs.get_run(rt.catalog, run_id).to_dict(), 201)
        except KilnError as e:
            self.fail(e)


class RunStatus(_Handler):
    @web.authenticated
    def get(self, run_id: str) -> None:
        from kiln.catalog import runs
        from kiln.runtime import Runtime

        try:
            self.answer(runs.get_run(Runtime.open().catalog, run_id).to_dict())
        except KilnError as e:
            self.fail(e)


def _notebook_path(handler: _Handler, body: dict[str, Any]) -> str:
    """The notebook's file (the panel saves it first), inside the server's root only."""
    import os

    root = os.path.realpath(handler.settings.get("server_root_dir") or os.getcwd())
    rel = str(body.get("path") or "")
    full = os.path.realpath(os.path.join(root, rel))
    if not rel.endswith(".ipynb") or not full.startswith(root + os.sep) or \
            not os.path.isfile(full):
        raise web.HTTPError(400, f"no notebook {rel!r} under the server's folder")
    return full


def _cli(*args: str, background: bool = False, log: str | None = None) -> Any:
    """A kiln command, as the user would type it: the same checks and records."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "kiln.cli", *args]
    if background:
        out = open(log or "/dev/null", "ab")  # noqa: SIM115 - the child keeps it
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


class StepLog(_Handler):
    @web.authenticated
    def get(self, run_id: str, step: str) -> None:
        from kiln.catalog import runs
        from kiln.runtime import Runtime

        try:
            task = runs.get_run(Runtime.open().catalog, run_id, with_events=False).task(step)
        except KilnError as e:
            self.fail(e)
            return
        text = ""
        if task.log_path:
            try:
                with open(task.log_path, "rb") as f:
                    text = f.read()[-200_000:].decode("utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
        self.answer({"step": step, "status": task.status, "log": text})


class Serve(_Handler):
    @web.authenticated
    def post(self) -> None:
        """Serve the model the run's last model-making step stored, as a managed server."""
        from kiln.catalog import runs
        from kiln.runtime import Runtime
        from kiln.serving.loading import model_outputs

        run_id = str(self.body().get("run") or "")
        try:
            run = runs.get_run(Runtime.open().catalog, run_id)
        except KilnError as e:
            self.fail(e)
            return
        found = model_outputs({t.step: t.outputs for t in run.tasks})
        if not found:
            self.answer({"error": {"message": f"run {run.id} stored no model to serve",
                                   "where": "run", "hint": "a step must return a model "
                                   "(scikit-learn, XGBoost, LightGBM, PyTorch)"}}, 400)
            return
        source = f"{run.id}/{found[-1]}"
        r = _cli("serve", source, "--detach", "--port", "0")
        if r.returncode:
            message = (r.stderr.strip().splitlines() or ["serving failed"])[0]
            self.answer({"error": {"message": message.removeprefix("error: "),
                                   "where": source, "hint": None}}, 400)
            return
        self.answer({"model": source, "said": r.stdout.strip()}, 201)


class Tune(_Handler):
    @web.authenticated
    def post(self) -> None:
        """Start a study of the notebook from its katib_metadata (which the panel wrote, as
        Kale does); the answer names it, to follow with GET studies/NAME."""
        import secrets

        from kiln.runtime import Runtime

        path = _notebook_path(self, self.body())
        stem = "".join(c if c.isalnum() else "-" for c in path.rsplit("/", 1)[-1][:-6].lower())
        name = f"{stem.strip('-')[:40] or 'study'}-{secrets.token_hex(3)}"
        log = Runtime.open().home.services_dir / f"panel-study-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        _cli("tune", path, "--name", name, background=True, log=str(log))
        self.answer({"study": name, "log": str(log)}, 202)


class Study(_Handler):
    @web.authenticated
    def get(self, name: str) -> None:
        from kiln.catalog.studies import get_study
        from kiln.runtime import Runtime

        try:
            self.answer(get_study(Runtime.open().catalog, name).to_dict())
        except KilnError as e:
            self.fail(e)


class Compile(_Handler):
    @web.authenticated
    def post(self) -> None:
        """A Kubeflow Pipelines package beside the notebook (NAME.yaml)."""
        path = _notebook_path(self, self.body())
        out = path[:-6] + ".yaml"
        r = _cli("compile", path, "--target", "kfp", "-o", out)
        if r.returncode:
            self.answer({"error": {"message": r.stderr.strip().splitlines()[0][7:]
                                   if r.stderr.strip() else "compile failed",
                                   "where": None, "hint": None}}, 400)
            return
        self.answer({"package": out.rsplit("/", 1)[-1], "bytes": len(open(out).read())})


class Submit(_Handler):
    @web.authenticated
    def post(self) -> None:
        """Upload the notebook to Kubeflow Pipelines and start a run there (`kiln submit`;
        the token, if the endpoint needs one, from the server's KF_PIPELINES_TOKEN)."""
        body = self.body()
        path = _notebook_path(self, body)
        host = str(body.get("host") or "").strip()
        if not host:
            self.answer({"error": {"message": "name the Kubeflow Pipelines endpoint",
                                   "where": "host", "hint": "e.g. http://localhost:8080 "
                                   "(kubectl port-forward -n kubeflow svc/ml-pipeline-ui "
                                   "8080:80)"}}, 400)
            return
        r = _cli("submit", path, "--host", host)
        if r.returncode:
            lines = r.stderr.strip().splitlines() or ["submit failed"]
            hint = next((x.strip()[6:] for x in lines if x.strip().startswith("hint:")), None)
            self.answer({"error": {"message": lines[0].removeprefix("error: "),
                                   "where": host, "hint": hint}}, 400)
            return
        self.answer({"said": r.stdout.strip()}, 201)


class Snapshot(_Handler):
    @web.authenticated
    def post(self) -> None:
        from kiln.volumes import snapshots

        volume = str(self.body().get("volume") or "")
        try:
            snap = snapshots.create(volume, "from JupyterLab")
            self.answer(snap.to_dict(), 201)
        except KilnError as e:
            self.fail(e)


class Config(_Handler):
    @web.authenticated
    def get(self) -> None:
        """Where the dashboard is, for the panel's links (KILN_DASHBOARD_URL, default the
        address `kiln server` takes)."""
        import os

        self.answer({"dashboard": (os.environ.get("KILN_DASHBOARD_URL")
                                   or "http://127.0.0.1:8765").rstrip("/")})


def routes(base: str) -> list[tuple[str, type[_Handler]]]:
    from jupyter_server.utils import url_path_join

    return [(url_path_join(base, "kilnflow", "config"), Config),
            (url_path_join(base, "kilnflow", "analyse"), Analyse),
            (url_path_join(base, "kilnflow", "run"), Run),
            (url_path_join(base, "kilnflow", "runs", r"([0-9A-Za-z_.-]+)"), RunStatus),
            (url_path_join(base, "kilnflow", "runs", r"([0-9A-Za-z_.-]+)", "steps",
                           r"([0-9A-Za-z_.-]+)", "log"), StepLog),
            (url_path_join(base, "kilnflow", "serve"), Serve),
            (url_path_join(base, "kilnflow", "tune"), Tune),
            (url_path_join(base, "kilnflow", "studies", r"([0-9A-Za-z_.-]+)"), Study),
            (url_path_join(base, "kilnflow", "compile"), Compile),
            (url_path_join(base, "kilnflow", "snapshot"), Snapshot),
            (url_path_join(base, "kilnflow", "submit"), Submit)]
