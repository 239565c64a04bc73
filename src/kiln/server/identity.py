"""Signing in and out, one's own tokens, and — for admins — users, groups, namespaces'
contributors, grants on single objects, the audit log and the Kubeflow profiles export.
Each route's access rule is in kiln.server.authz."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from kiln.catalog.db import Catalog
from kiln.errors import NotFoundError, UserError
from kiln.identity import accounts, audit, grants, namespaces, signin, tokens
from kiln.identity.model import Principal, identity_catalog
from kiln.server.auth import COOKIE, session_value
from kiln.server.authz import principal, request_namespace

router = APIRouter(tags=["identity"])

Role = Literal["admin", "edit", "view"]
SubjectKind = Literal["user", "group"]


def catalog(request: Request) -> Catalog:
    return identity_catalog(request.app.state.rt)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _auditor(request: Request, actor: str) -> None:
    event = request.scope.get("kiln.audit")
    if event is not None:
        event["actor"] = actor


class SignIn(BaseModel):
    """A name and password, or a token (the server's shared one, or a personal one)."""

    username: str | None = Field(None, max_length=128)
    password: str | None = Field(None, max_length=1024)
    token: str | None = Field(None, max_length=200)


@router.post("/session")
def sign_in(body: SignIn, request: Request) -> JSONResponse:
    """The dashboard's sign-in: an HttpOnly, SameSite=Strict session cookie."""
    import hmac

    auth = request.app.state.auth
    if auth is None:
        return JSONResponse({"signed_in": True, "user": "local"})
    secure = request.url.scheme == "https"
    if body.token is not None:
        if auth.token is not None and hmac.compare_digest(body.token.encode(),
                                                          auth.token.encode()):
            _auditor(request, "admin-token")
            done = JSONResponse({"signed_in": True, "user": "admin-token"})
            done.set_cookie(COOKIE, session_value(auth.token.encode()), path="/api/",
                            httponly=True, samesite="strict", secure=secure)
            return done
        if not auth.identity:
            from kiln.errors import AuthenticationError

            raise AuthenticationError("the token is wrong", where="body.token",
                                      hint="use the server's KILN_SERVER_TOKEN")
        name = tokens.authenticate(catalog(request), body.token, kind="personal").name
    elif auth.identity:
        _auditor(request, str(body.username or "-").strip().lower()[:128])  # failures too
        name = signin.check_password(catalog(request), body.username, body.password,
                                     _address(request))
    else:
        raise UserError("send the server's token", where="body.token",
                        hint='{"token": "..."}; this server has no user accounts')
    _auditor(request, name)
    session = tokens.create(catalog(request), name, "dashboard", kind="session")
    done = JSONResponse({"signed_in": True, "user": name})
    done.set_cookie(COOKIE, session.secret, path="/api/", httponly=True, samesite="strict",
                    secure=secure, max_age=tokens.SESSION_HOURS * 3600)
    return done


@router.delete("/session")
def sign_out(request: Request) -> JSONResponse:
    value = request.cookies.get(COOKIE)
    if value and value.startswith(tokens.PREFIX) and request.app.state.auth is not None:
        tokens.end_session(catalog(request), value)
    done = JSONResponse({"signed_in": False})
    done.delete_cookie(COOKIE, path="/api/")
    return done


class Login(BaseModel):
    username: str = Field(max_length=128)
    password: str = Field(max_length=1024)
    token_name: str = Field("kiln login", max_length=100)
    expires_days: int = Field(90, ge=1, le=tokens.MAX_DAYS)


@router.post("/login", status_code=201)
def login(body: Login, request: Request) -> dict[str, Any]:
    """`kiln login`: a name and password for a new personal token, shown once."""
    auth = request.app.state.auth
    if auth is None or not auth.identity:
        raise UserError("this server has no user accounts", where="URL",
                        hint="use its token (KILN_TOKEN), or start it with --auth")
    _auditor(request, body.username.strip().lower()[:128])  # failures are logged too
    name = signin.check_password(catalog(request), body.username, body.password,
                                 _address(request))
    _auditor(request, name)
    made = tokens.create(catalog(request), name, body.token_name, days=body.expires_days)
    return {**made.to_dict(), "user": name}


@router.get("/whoami")
def whoami(request: Request) -> dict[str, Any]:
    """The caller: name, how they signed in, server admin or not, groups, roles per namespace
    and grants on single objects."""
    who = principal(request)
    cat = catalog(request)
    mine = namespaces.roles(cat, who) if request.app.state.auth is not None else {}
    return {"name": who.name, "kind": who.kind, "admin": who.is_admin, "via": who.via,
            "read_only": who.read_only, "groups": list(who.group_names),
            "namespaces": mine, "auth": request.app.state.auth is not None,
            "grants": grants.list_grants(cat, who=who) if who.user_id is not None else []}


# --- tokens ------------------------------------------------------------------------------


class NewToken(BaseModel):
    name: str = Field(max_length=100)
    expires_days: int | None = Field(90, ge=1, le=tokens.MAX_DAYS,
                                     description="null: never (service accounts only)")
    read_only: bool = False
    user: str | None = Field(None, description="Default: yourself. A service account, for "
                                               "its namespace's admins.")


def _account(who: Principal) -> str:
    if who.user_id is None:
        raise UserError(f"'{who.name}' is not an account and has no tokens", where="user",
                        hint="sign in as a user (the shared token is for scripts)")
    return who.name


@router.get("/tokens")
def list_tokens(request: Request, user: str | None = None) -> dict[str, Any]:
    who = principal(request)
    name = user or _account(who)
    if name != who.name and not who.is_admin:
        tokens.check_may_create_for(catalog(request), who, name)
    return {"tokens": tokens.list_tokens(catalog(request), name)}


@router.post("/tokens", status_code=201)
def create_token(body: NewToken, request: Request) -> dict[str, Any]:
    who = principal(request)
    name = body.user or _account(who)
    tokens.check_may_create_for(catalog(request), who, name)
    return tokens.create(catalog(request), name, body.name, days=body.expires_days,
                         read_only=body.read_only).to_dict()


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, request: Request) -> dict[str, Any]:
    tokens.revoke(catalog(request), token_id, by=principal(request))
    return {"revoked": token_id}


# --- users and groups ------------------------------------------------------------------------


class NewUser(BaseModel):
    name: str = Field(max_length=128)
    password: str | None = Field(None, max_length=1024)
    admin: bool = False


class UserChange(BaseModel):
    password: str | None = Field(None, max_length=1024)
    admin: bool | None = None
    disabled: bool | None = None


@router.get("/users")
def list_users(request: Request) -> dict[str, Any]:
    return {"users": [u.to_dict() for u in accounts.list_users(catalog(request))]}


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request) -> dict[str, Any]:
    return accounts.add_user(catalog(request), body.name, password=body.password,
                             admin=body.admin).to_dict()


@router.patch("/users/{name}")
def change_user(name: str, body: UserChange, request: Request) -> dict[str, Any]:
    return accounts.change_user(catalog(request), name, password=body.password,
                                admin=body.admin, disabled=body.disabled).to_dict()


@router.delete("/users/{name}")
def remove_user(name: str, request: Request) -> dict[str, Any]:
    accounts.remove_user(catalog(request), name)
    return {"removed": name}


class NewGroup(BaseModel):
    name: str = Field(max_length=63)


@router.get("/groups")
def list_groups(request: Request) -> dict[str, Any]:
    return {"groups": accounts.list_groups(catalog(request))}


@router.post("/groups", status_code=201)
def create_group(body: NewGroup, request: Request) -> dict[str, Any]:
    return accounts.create_group(catalog(request), body.name)


@router.delete("/groups/{name}")
def remove_group(name: str, request: Request) -> dict[str, Any]:
    accounts.remove_group(catalog(request), name)
    return {"removed": name}


@router.put("/groups/{name}/members/{user}")
def add_member(name: str, user: str, request: Request) -> dict[str, Any]:
    accounts.add_member(catalog(request), name, user)
    return {"group": name, "added": user}


@router.delete("/groups/{name}/members/{user}")
def remove_member(name: str, user: str, request: Request) -> dict[str, Any]:
    accounts.remove_member(catalog(request), name, user)
    return {"group": name, "removed": user}


# --- namespaces: owners and contributors -----------------------------------------------------


class NewNamespace(BaseModel):
    name: str = Field(max_length=63)
    owner: str = Field(max_length=128)


class Binding(BaseModel):
    role: Role


class Owner(BaseModel):
    owner: str = Field(max_length=128)


class ServiceAccount(BaseModel):
    name: str = Field(max_length=128)
    role: Role = "edit"


@router.post("/namespaces", status_code=201)
def create_namespace(body: NewNamespace, request: Request) -> dict[str, Any]:
    """Give a namespace an owner; its home (catalog, store, folders) is made now too, so its
    members find it at once."""
    from kiln.runtime import Runtime

    made = namespaces.create(catalog(request), body.name, body.owner)
    Runtime.open(request.app.state.rt.home.for_namespace(body.name)).home.ensure()
    return made


@router.put("/namespaces/{ns}/owner")
def set_owner(ns: str, body: Owner, request: Request) -> dict[str, Any]:
    return namespaces.set_owner(catalog(request), ns, body.owner)


@router.get("/namespaces/{ns}/members")
def members(ns: str, request: Request) -> dict[str, Any]:
    return namespaces.describe(catalog(request), ns)


@router.put("/namespaces/{ns}/members/{kind}/{subject}")
def bind(ns: str, kind: SubjectKind, subject: str, body: Binding,
         request: Request) -> dict[str, Any]:
    return namespaces.bind(catalog(request), ns, kind, subject, body.role)


@router.delete("/namespaces/{ns}/members/{kind}/{subject}")
def unbind(ns: str, kind: SubjectKind, subject: str, request: Request) -> dict[str, Any]:
    return namespaces.unbind(catalog(request), ns, kind, subject)


@router.post("/namespaces/{ns}/service-accounts", status_code=201)
def add_service_account(ns: str, body: ServiceAccount, request: Request) -> dict[str, Any]:
    """An account for automation (a CI job, a schedule's caller, a served model's client),
    bound to this namespace only; make its tokens with POST /tokens {"user": NAME}."""
    from kiln.errors import ConflictError

    cat = catalog(request)
    namespaces.describe(cat, ns)  # the namespace must have an owner first
    try:
        accounts.add_user(cat, body.name, kind="service")
    except ConflictError:
        if accounts.get_user(cat, body.name).kind != "service":
            raise
    return namespaces.bind(cat, ns, "user", body.name, body.role)


# --- grants, audit, export -------------------------------------------------------------------


class GrantLevel(BaseModel):
    level: Literal["read", "edit", "manage"]


@router.get("/grants")
def list_grants(request: Request) -> dict[str, Any]:
    """Grants on the namespace's objects."""
    return {"grants": grants.list_grants(catalog(request), request_namespace(request))}


@router.put("/grants/{kind}/{name}/{subject_kind}/{subject}")
def grant(kind: str, name: str, subject_kind: SubjectKind, subject: str, body: GrantLevel,
          request: Request) -> dict[str, Any]:
    return grants.grant(catalog(request), request_namespace(request), kind, name, subject_kind,
                        subject, body.level, by=principal(request).name)


@router.delete("/grants/{kind}/{name}/{subject_kind}/{subject}")
def revoke_grant(kind: str, name: str, subject_kind: SubjectKind, subject: str,
                 request: Request) -> dict[str, Any]:
    grants.revoke(catalog(request), request_namespace(request), kind, name, subject_kind,
                  subject)
    return {"revoked": f"{subject_kind}:{subject}"}


@router.get("/audit")
def audit_log(request: Request, limit: int = Query(100, ge=1, le=1000),
              before: int | None = Query(None, ge=1), actor: str | None = None,
              everywhere: bool = Query(False, description="Every namespace (server admins).")
              ) -> dict[str, Any]:
    """The namespace's audit log, newest first."""
    who = principal(request)
    if everywhere and not who.is_admin:
        from kiln.errors import PermissionDenied

        raise PermissionDenied("only server admins see every namespace's log",
                               where="everywhere")
    rows = audit.entries(catalog(request), limit=limit, before=before, actor=actor,
                         namespace=None if everywhere else request_namespace(request))
    return {"entries": rows, "next": str(rows[-1]["id"]) if len(rows) == limit else None}


@router.get("/export/kubeflow-profiles", response_class=PlainTextResponse)
def export_profiles(request: Request) -> PlainTextResponse:
    """Profiles and contributor role bindings for Kubeflow, as YAML."""
    from kiln.identity.profiles import profiles_yaml

    text = profiles_yaml(catalog(request))
    if not text:
        raise NotFoundError("no namespace has an owner yet", where="namespaces",
                            hint="`kiln namespace create NS --owner USER` gives one")
    return PlainTextResponse(text, media_type="application/yaml")
