"""A shared secret for `kiln server`: with a token set (KILN_SERVER_TOKEN or --token-file),
every API request must carry it, as `Authorization: Bearer TOKEN` (or `?token=` on links such
as downloads). The dashboard's own files and /api/v1/health stay open: they hold no data.

A server bound beyond loopback without a token is refused at start (see kiln.cli.server)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = ("/api/v1/health",)


class TokenAuth:
    """Pure ASGI (not BaseHTTPMiddleware): streamed answers such as logs pass untouched."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        if given is not None and hmac.compare_digest(given, self.token):
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        from kiln.server.deps import error_body

        body = error_body("the token is wrong" if given is not None
                          else "this server needs a token",
                          where="Authorization",
                          hint="send Authorization: Bearer TOKEN, the server's "
                               "KILN_SERVER_TOKEN", reference="auth-required")
        await JSONResponse(body, status_code=401,
                           headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)

    @staticmethod
    def _given(scope: Scope) -> bytes | None:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return bytes(value[7:].strip())
        from urllib.parse import parse_qs

        query: dict[str, list[str]] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0].encode()
        return None
