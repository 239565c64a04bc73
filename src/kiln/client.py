"""A kilnflow server over HTTP: what the CLI uses when KILN_URL is set, and a client for
scripts on machines that reach the team's `kiln server` but not its database or store.

    client = kiln.Client("https://kiln.example.org", token="...")
    run = client.start_run("churn", params={"max_depth": 6})
    client.wait(run["id"])["status"]

Each method is one REST call (docs/server.md); answers are the API's JSON. The server's
errors come back as the same exceptions a local call raises (NotFoundError, UserError), with
its `where` and `hint`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kiln.errors import (
    AuthenticationError,
    ConflictError,
    KilnError,
    NotFoundError,
    PermissionDenied,
    TooManyAttempts,
    UserError,
)

API = "/api/v1"
# catalog.runs.FINISHED, not imported from there: that module loads SQLAlchemy, and a client
# machine needs nothing of the catalog.
_FINISHED = ("succeeded", "failed", "cancelled")


class Client:
    def __init__(self, url: str, *, token: str | None = None, namespace: str | None = None,
                 timeout: float = 60.0) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
            raise UserError(f"'{url}' is not a server address", where="KILN_URL",
                            hint="write it as http://HOST:PORT, e.g. http://127.0.0.1:8765")
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if namespace:
            headers["X-Kiln-Namespace"] = namespace
        self._http = httpx.Client(base_url=url + API, headers=headers, timeout=timeout)

    @classmethod
    def from_env(cls, *, or_login: bool = False) -> Client | None:
        """KILN_URL (with KILN_TOKEN, else the token `kiln login` stored for it, and
        KILN_NAMESPACE); with `or_login`, the server `kiln login` signed in to last; or None
        to work on this machine."""
        from kiln import credentials

        url = os.environ.get("KILN_URL") or (credentials.current() if or_login else None)
        if not url:
            return None
        url = url.strip().rstrip("/")
        token = os.environ.get("KILN_TOKEN") or credentials.token_for(url)
        return cls(url, token=token, namespace=os.environ.get("KILN_NAMESPACE") or None)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one place requests are sent and errors mapped -----------------------------------

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        self._check(r)
        return r

    def _unreachable(self, e: Exception) -> UserError:
        return UserError(f"cannot reach the kiln server at {self.url}: {e}", where="KILN_URL",
                         hint="start it with `kiln server`, or check the address")

    def _check(self, r: httpx.Response) -> None:
        """The server's error as the exception a local call would raise."""
        if r.status_code < 400:
            return
        try:
            err = r.json()["error"]
            message, where, hint = err["message"], err.get("where"), err.get("hint")
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{self.url} answered {r.status_code} to {r.request.method} "
                            f"{r.request.url.path} without a kilnflow error", where="KILN_URL",
                            hint="is KILN_URL the address of `kiln server`?") from None
        if r.status_code == 401:
            raise AuthenticationError(f"the server refused the request: {message}",
                                      where="KILN_TOKEN", hint=hint or "sign in with `kiln "
                                      "login URL`, or set KILN_TOKEN")
        if r.status_code == 429:
            raise TooManyAttempts(message, where=where, hint=hint,
                                  retry_after=int(r.headers.get("retry-after") or 1))
        error = {403: PermissionDenied, 404: NotFoundError, 409: ConflictError}.get(r.status_code)
        if error is not None:
            raise error(message, where=where, hint=hint)
        if r.status_code < 500:
            raise UserError(message, where=where, hint=hint)
        raise KilnError(f"the server failed: {message}", where=where, hint=hint)

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self.request(method, path, **kw).json()

    # --- runs ---------------------------------------------------------------------------------

    def runs(self, *, limit: int = 50, experiment: str | None = None,
             status: str | None = None, filter: str | None = None,  # noqa: A002
             sort: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"experiment": experiment, "status": status,
                                    "filter": filter, "sort": sort}.items() if v}
        out: list[dict[str, Any]] = []
        while len(out) < limit:  # the API pages at 500
            page = self._json("GET", "/runs", params={
                **params, "limit": min(500, limit - len(out)),
                **({"offset": len(out)} if sort else {"before": out[-1]["id"]} if out else {})})
            out += page["runs"]
            if not page["next"]:
                break
        return out

    def run(self, ref: str) -> dict[str, Any]:
        """The run with its tasks (`ref`: an id, a unique prefix or 'latest')."""
        result: dict[str, Any] = self._json("GET", f"/runs/{ref}")
        return result

    def logs(self, ref: str, step: str, offset: int = 0) -> str:
        return self.request("GET", f"/runs/{ref}/steps/{step}/logs",
                            params={"offset": offset}).text

    def download_output(self, ref: str, step: str, name: str, dest: Path) -> int:
        """Write a step output's stored file to `dest` (whole or not at all); its size."""
        from kiln.files import atomic_path

        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            try:
                with self._http.stream("GET", f"/runs/{ref}/steps/{step}/outputs/{name}") as r:
                    if r.status_code >= 400:
                        r.read()
                        self._check(r)
                    for chunk in r.iter_bytes(1 << 20):
                        f.write(chunk)
            except httpx.TransportError as e:
                raise self._unreachable(e) from None
            return f.tell()

    def cancel(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/runs/{ref}/cancel")
        return result

    def start_run(self, pipeline: str, *, version: int | None = None,
                  params: dict[str, Any] | None = None, experiment: str | None = None,
                  labels: dict[str, str] | None = None,
                  name: str | None = None) -> dict[str, Any]:
        """Start a run of an uploaded pipeline on the server; returns it once recorded."""
        result: dict[str, Any] = self._json("POST", "/runs", json={
            "pipeline": pipeline, "version": version, "params": params or {},
            "experiment": experiment, "labels": labels or {}, "name": name})
        return result

    def resume(self, ref: str, from_step: str, params: dict[str, Any] | None = None,
               name: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/runs/{ref}/resume",
                                            json={"from_step": from_step,
                                                  "params": params or {}, "name": name})
        return result

    def wait(self, ref: str, *, interval: float = 0.5, timeout: float | None = None,
             on_poll: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the run until it has finished; `on_poll` sees each state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.run(ref)
            if on_poll is not None:
                on_poll(run)
            if run["status"] in _FINISHED:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise KilnError(f"run {run['id']} is still {run['status']} after {timeout}s")
            time.sleep(interval)

    # --- pipelines and volumes ------------------------------------------------------------------

    def upload_pipeline(self, path: Path, *, name: str | None = None, entry: str = "",
                        message: str = "", reuse: bool = False) -> dict[str, Any]:
        """A notebook, module or spec as a new version (compiled by the server); `reuse`:
        the latest version instead when it holds the same file."""
        with open(path, "rb") as f:
            result: dict[str, Any] = self._json(
                "POST", "/pipelines", files={"file": (path.name, f)},
                data={k: v for k, v in {"name": name, "entry": entry, "message": message,
                                        "reuse": "true" if reuse else ""}.items() if v})
        return result

    def pipelines(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", "/pipelines")
        return result

    def volumes(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", "/volumes")
        return result

    def files(self, volume: str, path: str = "") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/volumes/{volume}/files",
                                                  params={"path": path})
        return result

