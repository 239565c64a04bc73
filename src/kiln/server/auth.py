"""A shared secret for `kiln server`: with a token set (KILN_SERVER_TOKEN or --token-file),
every API request must carry it, as `Authorization: Bearer TOKEN` (scripts, the CLI), or the
dashboard's session cookie. The dashboard's own files, /api/v1/health and the sign-in
(`POST /api/v1/session`) stay open: they hold no data.

Tokens never travel in URLs (browser history, proxy logs keep those): the dashboard posts the
token once and gets an HttpOnly, SameSite=Strict cookie holding a keyed hash of it (not the
token). Requests that change something on the strength of the cookie must also carry
`X-Kiln-Request: 1`, which a page of another origin cannot send (CSRF).

A server bound beyond loopback without a token is refused at start (see kiln.cli.server)."""

from __future__ import annotations

import hashlib
import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = ("/api/v1/health",)
SESSION_PATH = "/api/v1/session"
COOKIE = "kiln_session"
CSRF_HEADER = b"x-kiln-request"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session_value(token: bytes) -> str:
    """What the cookie holds: a keyed hash of the token, so the cookie is not the token."""
    return hmac.new(token, b"kiln dashboard session", hashlib.sha256).hexdigest()


class TokenAuth:
    """Pure ASGI (not BaseHTTPMiddleware): streamed answers such as logs pass untouched."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()
        self.session = session_value(self.token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if path == SESSION_PATH:
            await self._sign_in(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        bearer = self._bearer(headers)
        if bearer is not None and hmac.compare_digest(bearer, self.token):
            await self.app(scope, receive, send)
            return
        cookie = self._cookie(headers)
        if bearer is None and cookie is not None and hmac.compare_digest(cookie, self.session):
            if scope.get("method", "GET") in _SAFE_METHODS or headers.get(CSRF_HEADER) == b"1":
                await self.app(scope, receive, send)
                return
            await self._refuse(scope, receive, send, 403, "a change made with the dashboard's "
                               "session must come from the dashboard", where=CSRF_HEADER.decode(),
                               hint="send the X-Kiln-Request: 1 header")
            return
        wrong = bearer is not None or cookie is not None
        await self._refuse(scope, receive, send, 401,
                           "the token is wrong" if wrong else "this server needs a token",
                           where="Authorization",
                           hint="send Authorization: Bearer TOKEN, the server's "
                                "KILN_SERVER_TOKEN (the dashboard asks for it once)")

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST {"token": ...}: the session cookie; DELETE: sign out."""
        from starlette.responses import JSONResponse

        method = scope.get("method")
        if method == "DELETE":
            done = JSONResponse({"signed_in": False})
            done.delete_cookie(COOKIE, path="/api/")
            await done(scope, receive, send)
            return
        if method != "POST":
            await self._refuse(scope, receive, send, 405, f"{method} is not allowed here",
                               where=SESSION_PATH, hint="POST {\"token\": ...} to sign in")
            return
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if len(body) > 4096:
                break
            if not message.get("more_body"):
                break
        try:
            given = json.loads(body)["token"].encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            await self._refuse(scope, receive, send, 400, "send the token as JSON",
                               where="body", hint='{"token": "..."}')
            return
        if not hmac.compare_digest(given, self.token):
            await self._refuse(scope, receive, send, 401, "the token is wrong",
                               where="body.token", hint="use the server's KILN_SERVER_TOKEN")
            return
        done = JSONResponse({"signed_in": True})
        secure = scope.get("scheme") == "https"
        done.set_cookie(COOKIE, self.session.decode(), path="/api/", httponly=True,
                        samesite="strict", secure=secure)
        await done(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str,
                      *, where: str, hint: str) -> None:
        from starlette.responses import JSONResponse

        from kiln.server.deps import error_body

        body = error_body(message, where=where, hint=hint,
                          reference="auth-required" if status == 401 else "auth")
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)

    @staticmethod
    def _bearer(headers: dict[bytes, bytes]) -> bytes | None:
        value = headers.get(b"authorization")
        if value is not None and value[:7].lower() == b"bearer ":
            return bytes(value[7:].strip())
        return None

    @staticmethod
    def _cookie(headers: dict[bytes, bytes]) -> bytes | None:
        from http.cookies import CookieError, SimpleCookie

        raw = headers.get(b"cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except CookieError:
            return None
        morsel = jar.get(COOKIE)
        return morsel.value.encode() if morsel is not None else None
