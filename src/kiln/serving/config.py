"""What a server serves: models (with an optional canary), where it listens, how it batches."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_PORT = 8080  # KServe's and MLServer's HTTP port
DEFAULT_MAX_BODY = 64 * 1024 * 1024


def base_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server listening on `host`:`port`."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}"


@dataclass
class ModelConfig:
    name: str
    source: Any  # a MODEL string (see loading.py), or a Python object when served in-process
    version: int = 1
    canary: Any = None
    canary_version: int | None = None
    canary_percent: int = 0  # share of unversioned requests sent to the canary
    last_version: int = 1  # versions are never reused, even after a rollback

    def traffic(self) -> list[tuple[str, int]]:
        if self.canary is None or self.canary_version is None:
            return [(str(self.version), 100)]
        return [(str(self.version), 100 - self.canary_percent),
                (str(self.canary_version), self.canary_percent)]

    def sources(self) -> dict[str, Any]:
        out = {str(self.version): self.source}
        if self.canary is not None and self.canary_version is not None:
            out[str(self.canary_version)] = self.canary
        return out


@dataclass
class ServeConfig:
    models: list[ModelConfig]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    max_body: int = DEFAULT_MAX_BODY
    service: str | None = None  # the catalog record this server reloads from on SIGHUP

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        d = json.loads(text)
        d["models"] = [ModelConfig(**m) for m in d["models"]]
        return cls(**d)
