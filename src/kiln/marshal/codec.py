"""The codec seam: how one kind of value becomes one file, and back."""

from __future__ import annotations

import abc
import sys
from pathlib import Path
from typing import Any


class Codec(abc.ABC):
    """Writes values of some types to a single file and reads them back.

    `name` and `version` are stored with every artifact, so data written by an older codec
    version stays readable: a codec reads every version up to its own.
    """

    name: str = ""
    version: int = 1
    suffix: str = ""

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool: ...

    @abc.abstractmethod
    def write(self, value: Any, path: Path) -> None: ...

    @abc.abstractmethod
    def read(self, path: Path, version: int) -> Any: ...


def loaded(module: str) -> Any:
    """The module if the user's code already imported it (we never import it just to check)."""
    return sys.modules.get(module)
