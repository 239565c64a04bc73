"""The inference server as a plain ASGI app: Open Inference Protocol V2, V1, and /metrics.

Written against ASGI directly rather than a framework: the server has a dozen fixed routes
and its speed is measured per request (benchmarks/serving.py), where a router, request
objects and pydantic models cost more than the model call for small models.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kiln._version import __version__
from kiln.errors import RequestError
from kiln.serving import protocol
from kiln.serving.config import ServeConfig
from kiln.serving.metrics import metrics
from kiln.serving.repository import ModelVersion, Repository

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[int, bytes, dict[str, str]]

_JSON_HEADERS = [(b"content-type", b"application/json")]


def _reply(status: int, doc: Any) -> Reply:
    return status, protocol.dumps(doc), {}


UNKNOWN_MODEL = "_unknown"  # the one label value for requests naming no served model


class InferenceApp:
    """Loads the configured models at construction; servers run it with lifespan off."""

    def __init__(self, config: ServeConfig) -> None:
        self.repo = Repository(config)
        self.repo.apply(config)
        self._metrics = metrics()
        # A managed service logs every request (`kiln serve logs`, the dashboard's log); a
        # foreground server leaves its terminal to the user.
        self._access_log = config.service is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        t0 = time.perf_counter()
        model = ""
        protocol_name = "v2"
        try:
            path: str = scope["path"]
            method: str = scope["method"]
            if path.startswith("/v1/"):
                protocol_name = "v1"
            model, handler = self._route(method, path)
            body = b""
            if method == "POST":
                body = await self._body(scope, receive)
            status, payload, headers = await handler(scope, body)
        except RequestError as e:
            status, payload, headers = e.status, protocol.error_body(str(e)), {}
        except Exception as e:  # the model raised: answer 500 with its message, keep serving
            status, payload, headers = 500, protocol.error_body(
                f"{type(e).__name__}: {e}"), {}
        await _send(send, status, payload, headers)
        if self._access_log and model:  # requests to models; not probes or /metrics polls
            took = (time.perf_counter() - t0) * 1000
            detail = ""
            if status >= 400:
                detail = " " + payload[:200].decode(errors="replace")
            sys.stdout.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {scope['method']} "
                             f"{scope['path']} {status} {took:.1f}ms{detail}\n")
        if model:
            # Label values only for models this server has: every unknown name in a URL would
            # otherwise become a new time series, and /metrics would grow without bound.
            label = model if model in self.repo.models else UNKNOWN_MODEL
            m = self._metrics
            m.requests.labels(label, protocol_name, str(status)).inc()
            m.latency.labels(label).observe(time.perf_counter() - t0)

    # --- routing ----------------------------------------------------------------------

    def _route(self, method: str, path: str) -> tuple[
            str, Callable[[Scope, bytes], Awaitable[Reply]]]:
        parts = path.strip("/").split("/")
        if parts[0] == "v2":
            if len(parts) >= 3 and parts[1] == "models":
                return self._route_model(method, parts[2], parts[3:])
            if len(parts) == 3 and parts[1] == "health" and parts[2] in ("live", "ready"):
                return "", self._get_only(method, self._live if parts[2] == "live"
                                          else self._ready)
            if len(parts) == 1:
                return "", self._get_only(method, self._server_metadata)
        elif parts[0] == "v1" and len(parts) == 3 and parts[1] == "models":
            name, _, verb = parts[2].partition(":")
            if verb == "predict" and method == "POST":
                return name, lambda scope, body: self._v1_predict(name, body)
            if not verb:
                return name, self._get_only(method, lambda s, b: self._v1_metadata(name))
        elif path == "/metrics":
            return "", self._get_only(method, self._metrics_page)
        elif path == "/":
            return "", self._get_only(method, self._server_metadata)
        raise RequestError(f"no route {method} {path}", status=404,
                           hint="see /v2 for the server and /v2/models/{name} for a model")

    def _route_model(self, method: str, name: str, rest: list[str]) -> tuple[
            str, Callable[[Scope, bytes], Awaitable[Reply]]]:
        version = None
        if len(rest) >= 2 and rest[0] == "versions":
            version, rest = rest[1], rest[2:]
        if not rest:
            return name, self._get_only(method, lambda s, b: self._model_metadata(name, version))
        if rest == ["ready"]:
            return name, self._get_only(method, lambda s, b: self._model_ready(name, version))
        if rest == ["infer"]:
            if method != "POST":
                raise RequestError("infer takes POST", status=405)
            return name, lambda scope, body: self._infer(scope, name, version, body)
        raise RequestError(f"no route {method} /v2/models/{name}/{'/'.join(rest)}", status=404)

    @staticmethod
    def _get_only(method: str, handler: Callable[[Scope, bytes], Awaitable[Reply]]
                  ) -> Callable[[Scope, bytes], Awaitable[Reply]]:
        if method not in ("GET", "HEAD"):
            raise RequestError(f"{method} is not allowed here; use GET", status=405)
        return handler

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.repo.config.max_body
        for k, v in scope["headers"]:
            if k == b"content-length" and int(v) > limit:
                raise RequestError(f"the body is {int(v)} bytes; the limit is {limit}",
                                   status=413, hint="raise it with --max-body")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(f"the body is over the {limit}-byte limit", status=413,
                                   hint="raise it with --max-body")
            chunks.append(chunk)
            if not msg.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # --- handlers -----------------------------------------------------------------------

    async def _live(self, scope: Scope, body: bytes) -> Reply:
        return _reply(200, {"live": True})

    async def _ready(self, scope: Scope, body: bytes) -> Reply:
        if self.repo.ready:
            return _reply(200, {"ready": True})
        failed = [f"{mv.name} v{mv.version}: {mv.reason}" for m in self.repo.models.values()
                  for mv in m.versions.values() if not mv.ready]
        return _reply(503, {"ready": False, "error": "; ".join(failed) or "loading"})

    async def _server_metadata(self, scope: Scope, body: bytes) -> Reply:
        return _reply(200, {"name": "kilnflow", "version": __version__,
                            "extensions": ["binary_tensor_data", "model_versions", "v1"],
                            "models": sorted(self.repo.models)})

    async def _model_metadata(self, name: str, version: str | None) -> Reply:
        model = self.repo.get(name)
        mv = model.pick(version) if version else model.pick(model.traffic[0][0])
        doc: dict[str, Any] = {"name": name, "versions": sorted(model.versions),
                               "platform": mv.predictor.platform if mv.predictor else "",
                               "inputs": [], "outputs": []}
        if mv.predictor is not None:
            doc["inputs"] = [t.to_dict() for t in mv.predictor.inputs]
            doc["outputs"] = [t.to_dict() for t in mv.predictor.outputs]
        if version:
            doc["version"] = version
        if not mv.ready:
            doc["state"], doc["error"] = mv.state, mv.reason
        return _reply(200, doc)

    async def _model_ready(self, name: str, version: str | None) -> Reply:
        model = self.repo.get(name)
        mv = model.pick(version) if version else None
        ready = mv.ready if mv else model.ready
        doc: dict[str, Any] = {"name": name, "ready": ready}
        if not ready:
            reasons = [v.reason for v in ([mv] if mv else model.versions.values()) if v.reason]
            doc["error"] = "; ".join(reasons) or "loading"
        return _reply(200 if ready else 503, doc)

    def _usable(self, name: str, version: str | None) -> ModelVersion:
        mv = self.repo.get(name).pick(version)
        if not mv.ready or mv.batcher is None or mv.predictor is None:
            raise RequestError(f"model '{name}' version {mv.version} is not ready: "
                               f"{mv.reason or 'loading'}", status=503)
        return mv

    async def _infer(self, scope: Scope, name: str, version: str | None, body: bytes) -> Reply:
        mv = self._usable(name, version)
        assert mv.predictor is not None and mv.batcher is not None
        header_len = None
        for k, v in scope["headers"]:
            if k == b"inference-header-content-length":
                try:
                    header_len = int(v)
                except ValueError:
                    raise RequestError("Inference-Header-Content-Length is not a number"
                                       ) from None
        req = protocol.parse_infer(body, header_len)
        x = mv.predictor.prepare(req.inputs)
        outputs = mv.predictor.check_outputs(req.outputs)
        y = await mv.batcher.predict(x, outputs)
        payload, headers = protocol.encode_infer(name, mv.version, req, y)
        return 200, payload, headers

    async def _v1_metadata(self, name: str) -> Reply:
        model = self.repo.get(name)
        return _reply(200, {"name": name, "ready": model.ready})

    async def _v1_predict(self, name: str, body: bytes) -> Reply:
        mv = self._usable(name, None)
        assert mv.predictor is not None and mv.batcher is not None
        arr = protocol.parse_v1(body)
        x = mv.predictor.prepare([protocol.Tensor("instances", arr)])
        y = await mv.batcher.predict(x, mv.predictor.default_outputs)
        return 200, protocol.encode_v1(y), {}

    async def _metrics_page(self, scope: Scope, body: bytes) -> Reply:
        payload, content_type = self._metrics.render()
        return 200, payload, {"content-type": content_type}

    async def reload(self, config: ServeConfig) -> None:
        """Load what changed in a thread, then switch traffic (on SIGHUP)."""
        await asyncio.to_thread(self.repo.apply, config)


async def _send(send: Send, status: int, payload: bytes, headers: dict[str, str]) -> None:
    hdrs = _JSON_HEADERS if "content-type" not in headers else []
    raw = [*hdrs, *((k.encode(), v.encode()) for k, v in headers.items()),
           (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})

