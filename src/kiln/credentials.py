"""Where `kiln login` keeps its tokens: $XDG_CONFIG_HOME/kiln/credentials.json (default
~/.config/kiln), made 0600 from its first byte. One token per server address; the last
server signed in to is the one `kiln whoami`, `kiln token`, `kiln user`, ... talk to when
KILN_URL is unset."""

from __future__ import annotations

import json
import os
import stat
import warnings
from pathlib import Path
from typing import Any


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kiln" / "credentials.json"


def _load() -> dict[str, Any]:
    p = path()
    try:
        st = p.stat()
        text = p.read_text()
    except FileNotFoundError:
        return {"current": None, "servers": {}}
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{p} can be read by others; `chmod 600 {p}`", stacklevel=2)
    try:
        data = json.loads(text)
        if not isinstance(data.get("servers"), dict):
            raise ValueError
    except (ValueError, AttributeError):
        from kiln.errors import UserError

        raise UserError(f"{p} is not a kiln credentials file", where=str(p),
                        hint="delete it and sign in again with `kiln login URL`") from None
    result: dict[str, Any] = data
    return result


def _save(data: dict[str, Any]) -> None:
    from kiln.files import write_private

    write_private(path(), json.dumps(data, indent=1) + "\n")


def remember(url: str, token: str, user: str, token_id: int) -> None:
    data = _load()
    data["servers"][url] = {"token": token, "user": user, "token_id": token_id}
    data["current"] = url
    _save(data)


def forget(url: str) -> dict[str, Any] | None:
    data = _load()
    gone: dict[str, Any] | None = data["servers"].pop(url, None)
    if data.get("current") == url:
        data["current"] = next(iter(data["servers"]), None)
    _save(data)
    return gone


def token_for(url: str) -> str | None:
    entry = _load()["servers"].get(url.rstrip("/"))
    return entry.get("token") if entry else None


def current() -> str | None:
    """The server `kiln login` signed in to last."""
    url = _load().get("current")
    return url if isinstance(url, str) else None
