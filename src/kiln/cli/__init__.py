"""The `kiln` command line: one module per group of commands, all over the Python API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiln.client import Client
    from kiln.runtime import Runtime

# What works against a remote `kiln server` (KILN_URL): each of these asks remote() first.
REMOTE_COMMANDS = frozenset({
    "run", "logs", "runs ls", "runs show", "runs cancel", "artifacts ls", "artifacts get",
    "pipeline upload", "pipeline ls", "volume ls", "volume files"})
# Commands that never open a home, so KILN_URL does not concern them; and the identity
# commands (kiln.cli.identity), which choose their server themselves.
HOMELESS_COMMANDS = frozenset({"compile", "submit", "server", "login", "logout", "whoami",
                               "audit", "token", "user", "group", "namespace", "grant",
                               "export", "publish", "registry", "subscribe", "subscription",
                               "models"})


def runtime() -> Runtime:
    """The KILN_HOME a command works on (imported late: `kiln --help` stays light)."""
    from kiln.runtime import Runtime

    return Runtime.open()


def remote() -> Client | None:
    """The server KILN_URL names (with KILN_TOKEN), or None to work on this machine."""
    if not os.environ.get("KILN_URL"):
        return None
    from kiln.client import Client

    return Client.from_env()
