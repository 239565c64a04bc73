"""What the routers share with the application: the request's runtime (its namespace), the
one JSON error shape, and the fast JSON response. A module of its own so the routers need
not import the application that includes them."""

from __future__ import annotations

from typing import Any

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse

from kiln.errors import NotFoundError
from kiln.runtime import Runtime


def error_body(message: str, *, where: str | None = None, hint: str | None = None,
               reference: str = "kiln-error") -> dict[str, Any]:
    return {"error": {"message": message, "where": where, "hint": hint, "reference": reference}}


class FastJSON(JSONResponse):
    """JSON through orjson, returned as a Response so FastAPI skips `jsonable_encoder` (a
    recursive walk that cost more than the query on large run lists). For plain data only."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content)


async def runtime(request: Request,
                  namespace: str | None = Query(None, description=(
                      "The namespace to work in (default: the server's); the header "
                      "X-Kiln-Namespace says the same.")),
                  x_kiln_namespace: str | None = Header(None)) -> Runtime:
    """The runtime of the request's namespace. async so FastAPI calls it on the event loop:
    a plain def would cost every request one more trip through the thread pool."""
    return request_runtime(request)


def request_runtime(request: Request) -> Runtime:
    """The runtime of the namespace a request names (?namespace= or X-Kiln-Namespace)."""
    rt: Runtime = request.app.state.rt
    ns = request.query_params.get("namespace") or request.headers.get("x-kiln-namespace")
    if not ns or ns == rt.home.namespace:
        return rt
    home = rt.home.for_namespace(ns)  # a bad name is a UserError: 400
    if request.method in ("GET", "HEAD") and ns not in rt.home.namespaces():
        # reads never create state: a namespace comes into being with its first write
        raise NotFoundError(f"no namespace '{ns}'", where="namespace",
                            hint="GET /api/v1/namespaces lists them; a write creates one")
    return Runtime.open(home)
