"""One registry of codecs: the first codec that accepts a value and writes it cleanly wins."""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass
from typing import Any

from kiln.errors import CodecError, StoreError
from kiln.marshal.builtin import builtin_codecs
from kiln.marshal.codec import Codec
from kiln.store.base import ArtifactStore


@dataclass(frozen=True)
class ArtifactRef:
    """What a stored value is: its bytes' hash and how to read them back."""

    digest: str
    size: int
    codec: str
    codec_version: int
    type_name: str

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size, "codec": self.codec,
                "codec_version": self.codec_version, "type_name": self.type_name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArtifactRef:
        return cls(d["digest"], int(d["size"]), d["codec"], int(d["codec_version"]),
                   d["type_name"])


def type_name(value: Any) -> str:
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class CodecRegistry:
    def __init__(self, codecs: list[Codec] | None = None) -> None:
        self._codecs: list[Codec] = list(codecs if codecs is not None else builtin_codecs())

    def register(self, codec: Codec) -> None:
        """Add a codec ahead of the built-in ones (a user's codec is more specific)."""
        if not codec.name:
            raise ValueError("a codec needs a name")
        self._codecs = [c for c in self._codecs if c.name != codec.name]
        self._codecs.insert(0, codec)

    def names(self) -> list[str]:
        return [c.name for c in self._codecs]

    def by_name(self, name: str, version: int) -> Codec:
        for c in self._codecs:
            if c.name == name:
                if version > c.version:
                    raise CodecError(
                        f"artifact written by codec '{name}' version {version}, but this "
                        f"kilnflow reads up to version {c.version}",
                        hint="upgrade kilnflow (or the package that registers this codec)",
                    )
                return c
        raise CodecError(f"no codec named '{name}' is registered",
                         hint="import or install the package that registers it")

    def save(self, value: Any, store: ArtifactStore, *, what: str = "value") -> ArtifactRef:
        """Write `value` with the first codec that accepts it and succeeds."""
        failures: list[str] = []
        for codec in self._codecs:
            if not codec.accepts(value):
                continue
            tmp = store.temp_path(codec.suffix)
            try:
                codec.write(value, tmp)
            except Exception as e:  # a codec failing is normal: try the next one
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                if out_of_space(e):  # not the codec's fault: every other would fail alike
                    raise _no_space(what, tmp.parent, e) from None
                failures.append(f"{codec.name}: {type(e).__name__}: {e}")
                continue
            try:
                info = store.commit(tmp)
            except OSError as e:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                if out_of_space(e):
                    raise _no_space(what, tmp.parent, e) from None
                raise
            return ArtifactRef(info.digest, info.size, codec.name, codec.version, type_name(value))
        detail = "; ".join(failures) if failures else "no codec accepts this type"
        raise CodecError(
            f"cannot save {what} of type {type_name(value)}: {detail}",
            hint="return or define something serializable (data, arrays, frames, models), "
            "or register a codec with kiln.register_codec()",
        )

    def load(self, ref: ArtifactRef, store: ArtifactStore) -> Any:
        codec = self.by_name(ref.codec, ref.codec_version)
        return codec.read(store.local_path(ref.digest), ref.codec_version)


default_registry = CodecRegistry()

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def out_of_space(e: BaseException) -> bool:
    """A write that failed because the disk (or a quota, or a file size limit) is full.
    numpy's own writer says so only in its message."""
    return isinstance(e, OSError) and (e.errno in _NO_SPACE or "free space" in str(e))


def _no_space(what: str, folder: Any, e: BaseException) -> StoreError:
    return StoreError(f"cannot save {what}: no space left on device in {folder} "
                      f"({e.strerror or e})" if isinstance(e, OSError) else str(e),
                      hint="free disk space there, or point KILN_HOME at a bigger disk, then "
                           "run again")


def register_codec(codec: Codec) -> None:
    """Teach kilnflow to pass a new type between steps."""
    default_registry.register(codec)
