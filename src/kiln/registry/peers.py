"""Where a subscription's pieces come from: this installation (another namespace's store) or
a peer kilnflow server over HTTP. Both answer the same four questions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import httpx

from kiln.errors import KilnError, UserError
from kiln.identity.model import Principal

if TYPE_CHECKING:
    from kiln.runtime import Runtime


class Source(Protocol):
    label: str
    received: int  # bytes received from it, request bodies sent included

    def bucket(self, ref: str) -> dict[str, Any]: ...

    def version(self, ref: str, number: int | str | None) -> dict[str, Any]: ...

    def blobs(self, ref: str, number: int) -> list[tuple[str, str, int]]: ...

    def pack(self, ref: str, number: int, ids: list[tuple[str, str]]) -> bytes: ...


class Unreachable(KilnError):
    """A source that cannot be asked now (down, unreachable): the next one is tried."""

    reference = "source-unreachable"


class LocalSource:
    def __init__(self, rt: Runtime, who: Principal) -> None:
        self.rt, self.who, self.label, self.received = rt, who, "this server", 0

    def bucket(self, ref: str) -> dict[str, Any]:
        from kiln.registry import serving

        return serving.bucket_info(self.rt, ref, self.who)

    def version(self, ref: str, number: int | str | None) -> dict[str, Any]:
        from kiln.registry import serving

        return serving.version_info(self.rt, ref, self.who, number)

    def blobs(self, ref: str, number: int) -> list[tuple[str, str, int]]:
        from kiln.registry import serving

        return serving.closure(self.rt, ref, self.who, number)

    def pack(self, ref: str, number: int, ids: list[tuple[str, str]]) -> bytes:
        from kiln.registry import serving

        data = serving.pack(self.rt, ref, self.who, number, ids)
        self.received += len(data)
        return data


class HttpSource:
    """A peer's REST API (kiln.server.registry), with the subscription's token."""

    PAGE = 20_000

    def __init__(self, url: str, token: str | None, timeout: float = 120.0) -> None:
        from kiln.client import Client

        self.label = url
        self.received = 0
        try:
            self.client = Client(url, token=token, timeout=timeout)
        except UserError as e:
            raise UserError(f"'{url}' is not a server address", where="--from",
                            hint=e.hint) from None

    def _get(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.client._http.request(method, path, **kw)  # noqa: SLF001 - errors mapped below
        except httpx.TransportError as e:
            raise Unreachable(f"{self.label} cannot be reached: {e}", where=self.label) from None
        self.received += len(r.content) + len(r.request.content or b"")
        if r.status_code >= 500 or r.status_code in (502, 503, 504):
            raise Unreachable(f"{self.label} answered {r.status_code}", where=self.label)
        self.client._check(r)  # noqa: SLF001 - the server's error as our exception
        return r

    def _path(self, ref: str) -> str:
        owner, name = ref.split("/", 1)
        return f"/registry/buckets/{owner}/{name}"

    def bucket(self, ref: str) -> dict[str, Any]:
        return dict(self._get("GET", self._path(ref)).json())

    def version(self, ref: str, number: int | str | None) -> dict[str, Any]:
        return dict(self._get("GET", f"{self._path(ref)}/versions/{number or 'latest'}").json())

    def blobs(self, ref: str, number: int) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        offset = 0
        while True:
            page = self._get("GET", f"{self._path(ref)}/versions/{number}/blobs",
                             params={"offset": offset, "limit": self.PAGE}).json()
            out += [(k, b, int(n)) for k, b, n in page["blobs"]]
            if page["next"] is None:
                return out
            offset = int(page["next"])

    def pack(self, ref: str, number: int, ids: list[tuple[str, str]]) -> bytes:
        r = self._get("POST", f"{self._path(ref)}/versions/{number}/pack",
                      json={"ids": [list(i) for i in ids]})
        return r.content

    def close(self) -> None:
        self.client.close()
