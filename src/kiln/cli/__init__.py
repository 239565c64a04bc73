"""The `kiln` command line: one module per group of commands, all over the Python API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiln.runtime import Runtime


def runtime() -> Runtime:
    """The KILN_HOME a command works on (imported late: `kiln --help` stays light)."""
    from kiln.runtime import Runtime

    return Runtime.open()
