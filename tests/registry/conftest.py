"""Installations for the registry's tests: each its own KILN_HOME (catalog and store) and, when
started, its own `kiln server` on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import kiln_server, run_cli
from tests.identity.conftest import team  # noqa: F401 - the fixture, for the buckets tests


@dataclass
class Site:
    """One installation: a home, and the address of its server while one runs."""

    home: Path
    url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {"KILN_HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / "cfg")}

    def cli(self, *args: str, **kw: object) -> object:
        r = run_cli(*args, env={**self.env, **dict(kw.pop("env", {}) or {})},  # type: ignore[arg-type]
                    **kw)  # type: ignore[arg-type]
        return r

    def api(self, token: str | None = None, namespace: str | None = None) -> httpx.Client:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if namespace:
            headers["X-Kiln-Namespace"] = namespace
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=120)

    def volume_path(self, name: str, namespace: str | None = None) -> Path:
        root = self.home if namespace in (None, "default") else self.home / "namespaces" / namespace
        return root / "volumes" / name


@contextmanager
def serving(site: Site, *args: str, env: dict[str, str] | None = None) -> Iterator[Site]:
    with kiln_server("--no-scheduler", *args, env={**site.env, **(env or {})}) as base:
        site.url = base
        try:
            yield site
        finally:
            site.url = ""


def write_files(folder: Path, count: int, size: int, seed: int = 0) -> None:
    """`count` files of `size` random bytes (content-defined chunks differ across files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"part-{i:04d}.bin").write_bytes(os.urandom(size))


def same_tree(a: Path, b: Path) -> bool:
    def files(p: Path) -> dict[str, bytes]:
        return {str(f.relative_to(p)): f.read_bytes() for f in sorted(p.rglob("*"))
                if f.is_file()}

    return files(a) == files(b)
