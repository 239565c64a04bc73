"""Who is calling `kiln server`: authentication only (kiln.server.authz decides what they may
do). Three ways in, each off unless the server is started with it:

- `--auth`: users sign in (the dashboard's form, `kiln login`); requests carry a personal or
  service token (`Authorization: Bearer kiln_...`) or the dashboard's session cookie;
- a shared token (KILN_SERVER_TOKEN, --token-file): whoever has it is a server admin — what
  scripts used before --auth, and still may;
- a trusted proxy's header (`--proxy-user-header kubeflow-userid`): believed only from the
  proxy addresses given with it, never by default.

Secrets never travel in URLs (browser history and proxy logs keep those). The dashboard's
cookie is HttpOnly and SameSite=Strict, and a change made on the strength of the cookie must
also carry `X-Kiln-Request: 1`, which a page of another origin cannot send (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiln.errors import AuthenticationError, NotFoundError, PermissionDenied
from kiln.identity.model import Principal

if TYPE_CHECKING:
    from fastapi import Request

    from kiln.catalog.db import Catalog

COOKIE = "kiln_session"
CSRF_HEADER = "x-kiln-request"
ADMIN_TOKEN_NAME = "admin-token"


def session_value(token: bytes) -> str:
    """The shared token's session cookie: a keyed hash of it, so the cookie is not the token."""
    return hmac.new(token, b"kiln dashboard session", hashlib.sha256).hexdigest()


@dataclass
class Authenticator:
    identity: bool = False  # --auth: users, tokens, sessions
    token: str | None = None  # the shared admin token
    proxy_header: str | None = None
    proxy_prefix: str = ""
    trusted_proxies: tuple[str, ...] = ()
    _networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(
        default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._networks = [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]

    def catalog(self, request: Request) -> Catalog:
        from kiln.identity.model import identity_catalog

        return identity_catalog(request.app.state.rt)

    def identify(self, request: Request) -> Principal | None:
        """The caller, None for nobody (no credentials), AuthenticationError for credentials
        that are wrong, revoked or expired."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthenticationError("send the token as Authorization: Bearer TOKEN",
                                          where="Authorization")
            return self._bearer(request, value.strip())
        cookie = request.cookies.get(COOKIE)
        if cookie:
            return self._session(request, cookie)
        if self.proxy_header:
            return self._proxied(request)
        return None

    def _bearer(self, request: Request, value: str) -> Principal:
        if self.token is not None and hmac.compare_digest(value.encode(), self.token.encode()):
            return Principal(ADMIN_TOKEN_NAME, is_admin=True, via="admin-token")
        if self.identity:
            from kiln.identity import tokens

            return tokens.authenticate(self.catalog(request), value, kind="personal")
        raise AuthenticationError("the token is wrong", where="Authorization",
                                  hint="send the server's KILN_SERVER_TOKEN")

    def _session(self, request: Request, value: str) -> Principal:
        if self.token is not None and hmac.compare_digest(
                value.encode(), session_value(self.token.encode()).encode()):
            return Principal(ADMIN_TOKEN_NAME, is_admin=True, via="session")
        if self.identity and value.startswith("kiln_"):
            from kiln.identity import tokens

            try:
                return tokens.authenticate(self.catalog(request), value, kind="session")
            except AuthenticationError:
                pass
        raise AuthenticationError("your session has ended, or is not from this server",
                                  where="cookie", hint="sign in again")

    def _proxied(self, request: Request) -> Principal | None:
        assert self.proxy_header is not None
        value = request.headers.get(self.proxy_header)
        peer = request.client.host if request.client else ""
        if value is None or not self._trusted(peer):
            return None  # from anyone but the proxy, the header means nothing
        if self.proxy_prefix:
            if not value.startswith(self.proxy_prefix):
                raise AuthenticationError(f"the proxy's {self.proxy_header} header lacks its "
                                          f"prefix '{self.proxy_prefix}'",
                                          where=self.proxy_header)
            value = value[len(self.proxy_prefix):]
        from kiln.identity import accounts

        cat = self.catalog(request)
        name = value.strip().lower()
        try:
            user = accounts.get_user(cat, name)
        except NotFoundError:  # first visit: the proxy vouched for them
            from kiln.errors import ConflictError

            try:
                user = accounts.add_user(cat, name)  # checks the name; no password, no role
            except ConflictError:
                user = accounts.get_user(cat, name)  # another request made it meanwhile
        if user.disabled:
            raise AuthenticationError(f"the account '{name}' is disabled", where="user")
        from kiln.identity.tokens import groups_of

        ids, names = groups_of(cat, user.id)
        return Principal(user.name, user_id=user.id, kind=user.kind, is_admin=user.is_admin,
                         groups=ids, via="proxy", group_names=names)

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self._networks)

    def check_csrf(self, request: Request, who: Principal, changes: bool) -> None:
        """A change made with the session cookie must come from the dashboard's own page."""
        if changes and who.via == "session" and request.headers.get(CSRF_HEADER) != "1":
            raise PermissionDenied("a change made with the dashboard's session must come from "
                                   "the dashboard", where=CSRF_HEADER,
                                   hint="send the X-Kiln-Request: 1 header")
