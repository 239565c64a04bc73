"""Where kilnflow keeps its state: one folder, `KILN_HOME` (default `~/.kiln`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    """The layout of a KILN_HOME folder."""

    root: Path

    @classmethod
    def default(cls) -> Home:
        env = os.environ.get("KILN_HOME")
        root = Path(env).expanduser() if env else Path.home() / ".kiln"
        return cls(root.resolve())

    @property
    def catalog_url(self) -> str:
        env = os.environ.get("KILN_DATABASE_URL")
        return env or f"sqlite:///{self.root / 'catalog.db'}"

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def store_location(self) -> str:
        """KILN_STORE (a folder or s3://bucket/prefix), else the store folder in KILN_HOME."""
        return os.environ.get("KILN_STORE") or str(self.store_dir)

    @property
    def cache_dir(self) -> Path:
        """Plain copies of recent artifacts, for memory-mapped reads; safe to delete."""
        return self.root / "cache"

    @property
    def volumes_dir(self) -> Path:
        """Where managed volumes live (volumes created without --path)."""
        return self.root / "volumes"

    @property
    def runs_dir(self) -> Path:
        """Per-run working files: step logs and result manifests."""
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def task_dir(self, run_id: str, step: str) -> Path:
        return self.runs_dir / run_id / step

    @property
    def services_dir(self) -> Path:
        """Logs of the long-running processes kilnflow manages (model servers)."""
        return self.root / "services"

    def ensure(self) -> Home:
        for d in (self.root, self.store_dir, self.runs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
