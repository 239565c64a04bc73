"""What travels with a compiled pipeline: the kilnflow runtime and the pipeline's local code,
packed once, content-addressed (sha256, which the container checks with the standard library
before installing), and put where the cluster can read them.

- The runtime is a wheel of the kilnflow that compiles (built from its installed files, so
  it works for a pip-installed kilnflow with no source tree), or `--kiln-package`: a wheel
  path, a URL, or an index requirement such as `kilnflow==0.4.0`.
- Local modules go into one zip, embedded in the package when small, else stored.
- Stored objects go under `code/<sha256>/<file>` of the store (`KILN_STORE`, e.g.
  `s3://bucket/prefix`, the bucket KFP's pipeline root or MinIO already uses;
  docs/store-format.md). A local store works for kfp.local on this machine only: the
  compile says so.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kiln._version import __version__
from kiln.engine.kfp.environment import Environment
from kiln.errors import StoreError, UserError
from kiln.spec.model import PipelineSpec
from kiln.store.backend import Backend, LocalBackend

EMBED_LIMIT = 48 * 1024  # a component's command is one argv string: Linux caps it at 128 KiB
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip times: the same files give the same bytes (and key)


@dataclass
class Shipped:
    """One object the container fetches: embedded bytes or a URL, and its sha256."""

    sha256: str
    name: str
    url: str | None = None
    data: str | None = None  # base64, when embedded
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.sha256, "name": self.name}
        if self.url is not None:
            out["url"] = self.url
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass
class Runtime:
    version: str
    wheel: Shipped | None = None
    requirement: str | None = None  # an index requirement or a URL pip reads itself

    def describe(self) -> str:
        if self.requirement:
            return self.requirement
        assert self.wheel is not None
        return f"{self.wheel.name} ({self.wheel.url})"


@dataclass
class Shipment:
    """Everything the compiled package refers to, and what to tell the user about it."""

    environment: Environment
    runtime: Runtime
    code: Shipped | None = None
    wheels: dict[str, Shipped] = field(default_factory=dict)  # canonical name -> wheel
    notes: list[str] = field(default_factory=list)

    def plan(self, step: str) -> dict[str, Any]:
        """The bootstrap's input for one step (bootstrap.py)."""
        env = self.environment.steps[step]
        return self.plan_for(env.requirements, local_code=bool(env.local))

    def plan_for(self, requirements: dict[str, str], *, local_code: bool = False
                 ) -> dict[str, Any]:
        """The bootstrap's input for a container needing `requirements` (canonical name ->
        pip requirement) and the runtime."""
        reqs = sorted(r for n, r in requirements.items() if n not in self.wheels)
        wheels = [{**self.wheels[n].to_dict(), "requirement": requirements[n]}
                  for n in sorted(requirements) if n in self.wheels]
        runtime: dict[str, Any] = {"version": self.runtime.version,
                                   "requirement": self.runtime.requirement,
                                   "wheel": self.runtime.wheel.to_dict()
                                   if self.runtime.wheel else None}
        return {"requirements": reqs, "wheels": wheels, "runtime": runtime,
                "code": self.code.to_dict() if self.code and local_code else None,
                "boto3": _pin_of("boto3")}

    def summary(self, *, explain: bool = False) -> list[str]:
        """What each step's container installs when its image lacks it, for the user:
        one line per step, or (explain) every import and every pin."""
        lines = [f"kilnflow runtime: {self.runtime.describe()}"]
        if self.code is not None:
            where = self.code.url or f"embedded in the package ({self.code.size} bytes)"
            lines.append(f"local code: {', '.join(sorted(self.environment.local))} "
                         f"({where})")
        for name, env in self.environment.steps.items():
            pins = sorted(env.requirements.values(), key=str.lower)
            if not explain:
                shown = ", ".join(pins[:6]) + (f", +{len(pins) - 6} more" if len(pins) > 6
                                               else "")
                local = f"; local: {', '.join(sorted(env.local))}" if env.local else ""
                lines.append(f"step {name}: {len(pins)} packages ({shown}){local}")
                continue
            lines.append(f"step {name}:")
            for top, what in sorted(env.provided.items()):
                lines.append(f"  import {top}: {what}")
            for pin in pins:
                lines.append(f"  install {pin}")
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def uses_s3(self) -> bool:
        objs = [self.code, self.runtime.wheel, *self.wheels.values()]
        return any(o is not None and (o.url or "").startswith("s3://") for o in objs)


def ship_spec(spec: PipelineSpec, *, requirements: list[str] | None = None,
              kiln_package: str | None = None) -> Shipment:
    """Capture what `spec`'s steps need (environment.capture) and ship it."""
    from kiln.engine.kfp.environment import capture

    return ship(capture(spec, requirements=requirements or []), kiln_package=kiln_package)


def ship(environment: Environment, *, kiln_package: str | None = None,
         store: str | None = None) -> Shipment:
    """Pack the runtime and local code, and store what is too big to embed."""
    backend: Backend | None = None

    def stored(name: str, data: bytes) -> Shipped:
        nonlocal backend
        if backend is None:
            backend = _open_store(store)
        return publish(backend, name, data)

    runtime = _runtime(kiln_package, stored)
    code = None
    if environment.local:
        data = pack_local(environment.local)
        digest = hashlib.sha256(data).hexdigest()
        if len(data) <= EMBED_LIMIT:
            code = Shipped(digest, "code.zip", data=base64.b64encode(data).decode(),
                           size=len(data))
        else:
            code = stored("code.zip", data)
    wheels = {name: stored(path.name, _read(path, "a local wheel"))
              for name, path in environment.wheels.items()}
    shipment = Shipment(environment, runtime, code, wheels)
    if backend is not None and isinstance(backend, LocalBackend):
        shipment.notes.append(
            f"the runtime and code went to the local store {backend.root}: kfp.local on this "
            "machine can read them, a cluster cannot. Set KILN_STORE=s3://BUCKET/PREFIX (the "
            "bucket the cluster reads) or pass --kiln-package with an index requirement")
    return shipment


def _open_store(store: str | None) -> Backend:
    from kiln.home import Home
    from kiln.store.backend import open_backend

    location = store or Home.default().store_location
    try:
        return open_backend(location)
    except OSError as e:
        raise StoreError(f"cannot open the store at {location} to ship the pipeline's code: "
                         f"{e.strerror or e}",
                         hint="set KILN_STORE to a folder or bucket you can write") from None


def publish(backend: Backend, name: str, data: bytes) -> Shipped:
    """Put `data` under code/<sha256>/<name> unless it is there: whole or not at all (the
    backends write to a temporary name and rename; an S3 PUT is atomic)."""
    digest = hashlib.sha256(data).hexdigest()
    key = f"code/{digest}/{name}"
    if not backend.exists(key):
        backend.put(key, data)
    return Shipped(digest, name, url=object_url(backend, key), size=len(data))


def object_url(backend: Backend, key: str) -> str:
    if isinstance(backend, LocalBackend):
        return (backend.root.resolve() / key).as_uri()
    return f"{backend.url.rstrip('/')}/{key}"


def _runtime(spec: str | None, stored: Any) -> Runtime:
    if spec is None:
        name, data = runtime_wheel()
        return Runtime(__version__, wheel=stored(name, data))
    if spec.startswith(("http://", "https://", "s3://", "file://")):
        if spec.startswith(("http://", "https://")):
            return Runtime(_wheel_version(spec), requirement=spec)
        if spec.startswith("file://"):
            path = Path(spec[len("file://"):])
            return Runtime(_wheel_version(path.name), wheel=stored(path.name, _wheel(path)))
        raise UserError(f"--kiln-package {spec}: give an s3:// wheel as a path or an "
                        "http(s) URL", hint="or let the compile upload the runtime itself")
    path = Path(spec).expanduser()
    if spec.endswith(".whl") or os.sep in spec or path.exists():
        return Runtime(_wheel_version(path.name), wheel=stored(path.name, _wheel(path)))
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        raise UserError(f"--kiln-package {spec!r} is neither a wheel file, a URL nor a "
                        "requirement", hint="e.g. dist/kilnflow-0.4.0-py3-none-any.whl, "
                                            "https://host/kilnflow.whl or kilnflow==0.4.0"
                        ) from None
    if canonicalize_name(req.name) != "kilnflow":
        raise UserError(f"--kiln-package {spec!r} names {req.name}, not kilnflow",
                        hint="e.g. kilnflow==0.4.0")
    pinned = [s.version for s in req.specifier if s.operator == "=="]
    return Runtime(pinned[0] if pinned else "", requirement=spec)


def _wheel(path: Path) -> bytes:
    if path.suffix != ".whl":
        raise UserError(f"--kiln-package {path} is not a wheel (.whl)",
                        hint="build one with `pip wheel --no-deps PATH-TO-KILNFLOW`")
    data = _read(path, "--kiln-package")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UserError(f"--kiln-package {path} is not a wheel: not a zip archive")
    return data


def _wheel_version(filename: str) -> str:
    parts = filename.rsplit("/", 1)[-1].split("-")
    if len(parts) < 3 or canonicalize_name(parts[0]) != "kilnflow":
        raise UserError(f"--kiln-package {filename} is not a kilnflow wheel",
                        hint="its name starts kilnflow-VERSION-")
    return parts[1]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UserError(f"{what} {path}: {e.strerror or e}",
                        hint="give a file that exists") from None


def _pin_of(dist: str) -> str | None:
    try:
        return f"{dist}=={metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return None


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def _files(path: Path, arc: str) -> list[tuple[str, bytes]]:
    if path.is_file():
        return [(arc, path.read_bytes())]
    out = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path)
        if not f.is_file() or "__pycache__" in rel.parts or f.suffix == ".pyc" or \
                any(p.startswith(".") for p in rel.parts):
            continue
        out.append((f"{arc}/{rel.as_posix()}", f.read_bytes()))
    return out


def pack_local(local: dict[str, Path]) -> bytes:
    """The pipeline's local modules and packages as one zip, at their import names."""
    entries: list[tuple[str, bytes]] = []
    for top, path in sorted(local.items()):
        arc = path.name if path.is_file() else top
        try:
            entries += _files(path, arc)
        except OSError as e:
            raise UserError(f"cannot pack the local module {top} ({path}): {e.strerror or e}"
                            ) from None
    return _zip(entries)


def runtime_wheel() -> tuple[str, bytes]:
    """A wheel of the running kilnflow, from its installed files.

    Built by hand (a zip with a dist-info) rather than by `pip wheel`: a pip-installed
    kilnflow has no source tree to build from, and this takes a fraction of a second.
    """
    import _kilnflow_kale
    import kiln

    package = Path(kiln.__file__).parent
    entries = _files(package, "kiln")
    finder = Path(_kilnflow_kale.__file__)
    entries.append((finder.name, finder.read_bytes()))
    pth = finder.with_name("kilnflow-kale.pth")
    if pth.is_file():
        entries.append((pth.name, pth.read_bytes()))
    info = f"kilnflow-{__version__}.dist-info"
    try:
        meta = metadata.distribution("kilnflow").read_text("METADATA") or ""
    except metadata.PackageNotFoundError:
        meta = ""
    meta = meta or f"Metadata-Version: 2.1\nName: kilnflow\nVersion: {__version__}\n"
    entries.append((f"{info}/METADATA", meta.encode()))
    entries.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: kilnflow\n"
                                     b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    entries.append((f"{info}/top_level.txt", b"kiln\n_kilnflow_kale\n"))
    record = [f"{name},sha256={_record_hash(data)},{len(data)}" for name, data in entries]
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(sorted(record)) + "\n").encode()))
    return f"kilnflow-{__version__}-py3-none-any.whl", _zip(entries)


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
