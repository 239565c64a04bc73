"""Where kilnflow keeps its state: one folder, `KILN_HOME` (default `~/.kiln`).

Namespaces keep users' or teams' runs, volumes, pipelines and models apart (Kubeflow's
profiles): the default namespace is KILN_HOME itself; namespace NS (`KILN_NAMESPACE`, or
`kiln --namespace`) is KILN_HOME/namespaces/NS with its own catalog and store. On PostgreSQL
its catalog is the schema kiln_NS; on S3 its store is the prefix .../namespaces/NS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiln.names import check_name, valid

DEFAULT_NAMESPACE = "default"


def check_namespace(name: str) -> str:
    return check_name("namespace", name)


@dataclass(frozen=True)
class Home:
    """The layout of a KILN_HOME folder, for one namespace."""

    base: Path  # KILN_HOME itself
    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        check_namespace(self.namespace)

    @classmethod
    def default(cls) -> Home:
        env = os.environ.get("KILN_HOME")
        base = Path(env).expanduser() if env else Path.home() / ".kiln"
        return cls(base.resolve(), os.environ.get("KILN_NAMESPACE") or DEFAULT_NAMESPACE)

    @property
    def root(self) -> Path:
        """The namespace's folder: KILN_HOME for the default one."""
        if self.namespace == DEFAULT_NAMESPACE:
            return self.base
        return self.base / "namespaces" / self.namespace

    def for_namespace(self, namespace: str) -> Home:
        return Home(self.base, namespace)

    def namespaces(self) -> list[str]:
        """The default namespace and every one that has been used."""
        folder = self.base / "namespaces"
        found = sorted(p.name for p in folder.iterdir() if p.is_dir() and
                       valid("namespace", p.name)) if folder.is_dir() else []
        return [DEFAULT_NAMESPACE, *[n for n in found if n != DEFAULT_NAMESPACE]]

    def env(self) -> dict[str, str]:
        """The environment that makes a child process open this same home and namespace."""
        return {"KILN_HOME": str(self.base), "KILN_NAMESPACE": self.namespace}

    @property
    def catalog_url(self) -> str:
        env = os.environ.get("KILN_DATABASE_URL")
        return env or f"sqlite:///{self.root / 'catalog.db'}"

    @property
    def catalog_schema(self) -> str | None:
        """On a shared database server, the schema that holds this namespace's catalog."""
        if self.namespace == DEFAULT_NAMESPACE or not os.environ.get("KILN_DATABASE_URL"):
            return None
        return "kiln_" + self.namespace.replace("-", "_")

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def store_location(self) -> str:
        """KILN_STORE (a folder or s3://bucket/prefix; a namespace's under .../namespaces/NS),
        else the store folder of the namespace's home."""
        shared = os.environ.get("KILN_STORE")
        if not shared:
            return str(self.store_dir)
        if self.namespace == DEFAULT_NAMESPACE:
            return shared
        return f"{shared.rstrip('/')}/namespaces/{self.namespace}"

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

    def holds(self, path: Path) -> str | None:
        """Why writing over `path` would damage this home (its catalog, store, runs), or None.
        A volume's own folder is fair game; the home itself, a folder that contains it, and
        anything in it outside the volumes are not."""
        p = Path(os.path.realpath(path))
        base = Path(os.path.realpath(self.base))
        if p == base or base.is_relative_to(p):
            return f"{path} holds KILN_HOME ({self.base}): its catalog and store"
        if not p.is_relative_to(base):
            return None
        rest = p.relative_to(base).parts
        # volumes/NAME..., or namespaces/NS/volumes/NAME...
        if (len(rest) >= 2 and rest[0] == "volumes") or \
                (len(rest) >= 4 and rest[0] == "namespaces" and rest[2] == "volumes"):
            return None
        return f"{path} is inside KILN_HOME ({self.base}), outside any volume"

    def ensure(self) -> Home:
        for d in (self.root, self.store_dir, self.runs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
