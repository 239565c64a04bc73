"""`kiln.serve(model)`: an inference server inside this Python process (a notebook, a test).

The server runs in a background thread and speaks the same protocol as `kiln serve`.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Any

from kiln.errors import KilnError, ModelError
from kiln.serving.config import ModelConfig, ServeConfig, base_url


class Service:
    """A running in-process model server. Use as a context manager or call `stop()`."""

    def __init__(self, config: ServeConfig) -> None:
        import uvicorn

        from kiln.serving.app import InferenceApp
        from kiln.serving.server import bind

        self.config = config
        self.app = InferenceApp(config)
        self._sock = bind(config.host, config.port)
        self.port: int = self._sock.getsockname()[1]
        uv = uvicorn.Config(self.app, lifespan="off", access_log=False, log_level="warning")
        self._server = uvicorn.Server(uv)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name=f"kiln-serve-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise KilnError("the in-process model server did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return base_url(self.config.host, self.port)

    @property
    def model(self) -> str:
        return self.config.models[0].name

    def infer_url(self, model: str | None = None) -> str:
        return f"{self.url}/v2/models/{model or self.model}/infer"

    def predict(self, x: Any, *, model: str | None = None, output: str | None = None) -> Any:
        """Send `x` (rows of features) as a V2 request and return the first (or named) output.

        A DataFrame goes as one tensor per column (V2's named inputs), so columns of
        different types keep their own datatype.
        """
        import numpy as np
        import orjson

        if hasattr(x, "columns") and hasattr(x, "to_numpy"):
            inputs = [_tensor(str(c), x[c].to_numpy()) for c in x.columns]
        else:
            arr = np.asarray(x)
            inputs = [_tensor("input-0", arr.reshape(1, -1) if arr.ndim == 1 else arr)]
        doc: dict[str, Any] = {"inputs": inputs}
        if output:
            doc["outputs"] = [{"name": output}]
        req = urllib.request.Request(self.infer_url(model), data=orjson.dumps(doc),
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - our server
                body = orjson.loads(r.read())
        except urllib.error.HTTPError as e:
            raise KilnError(f"prediction failed ({e.code}): "
                            f"{orjson.loads(e.read()).get('error', '')}") from None
        out = body["outputs"][0]
        return np.asarray(out["data"]).reshape(out["shape"])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Service {self.model} at {self.url}>"


def _tensor(name: str, arr: Any) -> dict[str, Any]:
    from kiln.serving.datatypes import from_numpy

    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    return {"name": name, "shape": list(arr.shape), "datatype": from_numpy(arr.dtype),
            "data": arr.reshape(-1).tolist()}


def serve(model: Any, *, name: str = "model", host: str = "127.0.0.1", port: int = 0,
          max_batch_size: int = 64, max_wait_ms: float = 0.0) -> Service:
    """Serve a model object, a run artifact (`RUN/STEP/NAME`) or a file, and return the service.

    A model that fails to load raises ModelError here rather than starting a server that
    can only answer "not ready".
    """
    if isinstance(model, str):
        from kiln.serving.loading import resolve

        resolve(model)  # a wrong reference raises its own error (not found, bad file) here
    config = ServeConfig([ModelConfig(name, model)], host=host, port=port,
                         max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)
    service = Service(config)
    failed = [mv for m in service.app.repo.models.values() for mv in m.versions.values()
              if not mv.ready]
    if failed:
        service.stop()
        raise failed[0].error or ModelError(failed[0].reason)
    return service
