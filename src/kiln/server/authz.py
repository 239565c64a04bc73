"""Every REST route's access rule, and the one dependency that applies them.

A rule says what a route needs (kiln.identity.policy.Need), in which namespace (the
request's, or a path parameter's), and which single object it touches, so that a grant on
that object can stand in for a role in its namespace. `authorize` runs before every route's
own parameters are read: a refused request never reaches the route, and so changes nothing.

A route without a rule is refused (403) and makes `check_rules` fail when the application is
built, so a new route cannot ship open by accident; tests/server/test_permission_matrix.py
checks every route of the OpenAPI document against these rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request

from kiln.errors import AuthenticationError, PermissionDenied
from kiln.identity.model import LOCAL, Principal
from kiln.identity.policy import Need

if TYPE_CHECKING:
    from fastapi import FastAPI

# How an object is named by a request: a path parameter's name, or a function of the path
# parameters and the request (a snapshot id names its volume only through the catalog).
ObjectName = str | Callable[[dict[str, str], Request], str | None]


@dataclass(frozen=True)
class Rule:
    need: Need
    obj: tuple[str, ObjectName] | None = None  # (kind, name); kind "{param}": a path parameter
    obj_need: Need | None = None  # what a grant must give, when more than `need` (delete)
    namespace_param: str | None = None  # the namespace is this path parameter
    audit: str | None = None  # the action logged: a read's ("export"), or a change's name
    # when the method's (create, change, delete) says too little ("share")
    reads: bool = False  # a POST that only reads (a sync's pack request): read-only tokens
    # may send it, and it is not logged as a change


def _snapshot_volume(params: dict[str, str], request: Request, key: str = "ref") -> str | None:
    """The volume a snapshot reference belongs to (VOLUME:TAG, or an id looked up)."""
    ref = params.get(key, "")
    if ":" in ref:
        return ref.partition(":")[0]
    from kiln.catalog.volumes import get_snapshot
    from kiln.errors import KilnError
    from kiln.server.deps import request_runtime

    try:
        return get_snapshot(request_runtime(request).catalog, ref).volume
    except KilnError:
        return None


def _diff_volume(params: dict[str, str], request: Request) -> str | None:
    a, b = _snapshot_volume(params, request, "a"), _snapshot_volume(params, request, "b")
    return a if a is not None and a == b else None


V = "/api/v1"
VOLUME = ("volume", "name")
PIPELINE = ("pipeline", "name")
MODEL = ("model", "name")
SNAPSHOT: tuple[str, ObjectName] = ("volume", _snapshot_volume)

RULES: dict[tuple[str, str], Rule] = {
    # open: nothing in them is anyone's
    ("GET", "/"): Rule("public"),
    ("GET", f"{V}/health"): Rule("public"),
    ("POST", f"{V}/session"): Rule("public", audit="sign-in"),
    ("DELETE", f"{V}/session"): Rule("public"),
    ("POST", f"{V}/login"): Rule("public", audit="sign-in"),
    # the caller's own
    ("GET", f"{V}/whoami"): Rule("user"),
    ("GET", f"{V}/namespaces"): Rule("user"),
    ("GET", f"{V}/tokens"): Rule("user"),
    ("POST", f"{V}/tokens"): Rule("user"),
    ("DELETE", f"{V}/tokens/{{token_id}}"): Rule("user"),
    # the server's accounts: server admins
    ("GET", f"{V}/users"): Rule("server-admin"),
    ("POST", f"{V}/users"): Rule("server-admin"),
    ("PATCH", f"{V}/users/{{name}}"): Rule("server-admin"),
    ("DELETE", f"{V}/users/{{name}}"): Rule("server-admin"),
    ("GET", f"{V}/groups"): Rule("user"),  # names to bind, as Kubeflow's contributor form
    ("POST", f"{V}/groups"): Rule("server-admin"),
    ("DELETE", f"{V}/groups/{{name}}"): Rule("server-admin"),
    ("PUT", f"{V}/groups/{{name}}/members/{{user}}"): Rule("server-admin"),
    ("DELETE", f"{V}/groups/{{name}}/members/{{user}}"): Rule("server-admin"),
    ("POST", f"{V}/namespaces"): Rule("server-admin"),
    ("PUT", f"{V}/namespaces/{{ns}}/owner"): Rule("server-admin", namespace_param="ns"),
    ("GET", f"{V}/export/kubeflow-profiles"): Rule("server-admin", audit="export"),
    # a namespace's contributors: its admins
    ("GET", f"{V}/namespaces/{{ns}}/members"): Rule("view", namespace_param="ns"),
    ("POST", f"{V}/namespaces/{{ns}}/service-accounts"): Rule("admin", namespace_param="ns"),
    ("GET", f"{V}/audit"): Rule("admin"),
    # grants on one object: whoever may manage it
    ("GET", f"{V}/grants"): Rule("view"),
    ("PUT", f"{V}/grants/{{kind}}/{{name}}/{{subject_kind}}/{{subject}}"):
        Rule("admin", obj=("{kind}", "name"), audit="share"),
    ("DELETE", f"{V}/grants/{{kind}}/{{name}}/{{subject_kind}}/{{subject}}"):
        Rule("admin", obj=("{kind}", "name"), audit="unshare"),
    ("PUT", f"{V}/namespaces/{{ns}}/members/{{kind}}/{{subject}}"):
        Rule("admin", namespace_param="ns", audit="share"),
    ("DELETE", f"{V}/namespaces/{{ns}}/members/{{kind}}/{{subject}}"):
        Rule("admin", namespace_param="ns", audit="unshare"),
    # pipelines
    ("GET", f"{V}/pipelines"): Rule("view"),
    ("POST", f"{V}/pipelines"): Rule("edit"),
    ("GET", f"{V}/pipelines/{{name}}"): Rule("view", obj=PIPELINE),
    ("DELETE", f"{V}/pipelines/{{name}}"): Rule("edit", obj=PIPELINE, obj_need="admin"),
    ("GET", f"{V}/pipelines/{{name}}/versions/{{number}}"): Rule("view", obj=PIPELINE),
    # runs
    ("GET", f"{V}/runs"): Rule("view"),
    ("POST", f"{V}/runs"): Rule("edit"),
    ("GET", f"{V}/experiments"): Rule("view"),
    ("GET", f"{V}/runs/compare"): Rule("view"),
    ("GET", f"{V}/lineage/{{ref}}"): Rule("view"),
    ("GET", f"{V}/runs/{{run_id}}"): Rule("view"),
    ("PATCH", f"{V}/runs/{{run_id}}"): Rule("edit"),
    ("DELETE", f"{V}/runs/{{run_id}}"): Rule("edit"),
    ("GET", f"{V}/runs/{{run_id}}/metrics"): Rule("view"),
    ("GET", f"{V}/runs/{{run_id}}/visuals"): Rule("view"),
    ("GET", f"{V}/runs/{{run_id}}/steps/{{step}}/outputs/{{name}}"):
        Rule("view", audit="export"),
    ("GET", f"{V}/runs/{{run_id}}/steps/{{step}}/outputs/{{name}}/preview"): Rule("view"),
    ("POST", f"{V}/runs/{{run_id}}/cancel"): Rule("edit"),
    ("POST", f"{V}/runs/{{run_id}}/retry"): Rule("edit"),
    ("POST", f"{V}/runs/{{run_id}}/clone"): Rule("edit"),
    ("POST", f"{V}/runs/{{run_id}}/resume"): Rule("edit"),
    ("GET", f"{V}/runs/{{run_id}}/steps/{{step}}/logs"): Rule("view"),
    # volumes and snapshots
    ("GET", f"{V}/volumes"): Rule("view"),
    ("POST", f"{V}/volumes"): Rule("edit"),
    ("GET", f"{V}/volumes/{{name}}"): Rule("view", obj=VOLUME),
    ("DELETE", f"{V}/volumes/{{name}}"): Rule("edit", obj=VOLUME, obj_need="admin"),
    ("GET", f"{V}/volumes/{{name}}/files"): Rule("view", obj=VOLUME),
    ("DELETE", f"{V}/volumes/{{name}}/files"): Rule("edit", obj=VOLUME),
    ("GET", f"{V}/volumes/{{name}}/files/content"): Rule("view", obj=VOLUME, audit="export"),
    ("PUT", f"{V}/volumes/{{name}}/files/content"): Rule("edit", obj=VOLUME),
    ("POST", f"{V}/volumes/{{name}}/files/move"): Rule("edit", obj=VOLUME),
    ("GET", f"{V}/volumes/{{name}}/snapshots"): Rule("view", obj=VOLUME),
    ("POST", f"{V}/volumes/{{name}}/snapshots"): Rule("edit", obj=VOLUME),
    ("GET", f"{V}/snapshots/{{ref}}"): Rule("view", obj=SNAPSHOT),
    ("GET", f"{V}/snapshots/{{a}}/diff/{{b}}"): Rule("view", obj=("volume", _diff_volume)),
    ("GET", f"{V}/snapshots/{{ref}}/content"): Rule("view", obj=SNAPSHOT, audit="export"),
    ("POST", f"{V}/snapshots/{{ref}}/restore"): Rule("edit"),  # writes a volume: the namespace
    # schedules, notebooks, studies
    ("GET", f"{V}/schedules"): Rule("view"),
    ("POST", f"{V}/schedules"): Rule("edit"),
    ("GET", f"{V}/schedules/{{name}}"): Rule("view"),
    ("PATCH", f"{V}/schedules/{{name}}"): Rule("edit"),
    ("DELETE", f"{V}/schedules/{{name}}"): Rule("edit"),
    ("GET", f"{V}/notebooks"): Rule("view"),
    ("POST", f"{V}/notebooks"): Rule("edit"),
    ("POST", f"{V}/notebooks/{{name}}/stop"): Rule("edit"),
    ("GET", f"{V}/studies"): Rule("view"),
    ("GET", f"{V}/studies/{{ref}}"): Rule("view"),
    ("GET", f"{V}/studies/{{ref}}/trials"): Rule("view"),
    # the registry: buckets are the server's, not a namespace's; kiln.registry.buckets
    # decides read, publish and manage from the owner, visibility and grants
    ("GET", f"{V}/registry/buckets"): Rule("user"),
    ("GET", f"{V}/registry/buckets/{{owner}}/{{name}}"): Rule("user"),
    ("PATCH", f"{V}/registry/buckets/{{owner}}/{{name}}"): Rule("user"),
    ("DELETE", f"{V}/registry/buckets/{{owner}}/{{name}}"): Rule("user"),
    ("PUT", f"{V}/registry/buckets/{{owner}}/{{name}}/grants/{{subject_kind}}/{{subject}}"):
        Rule("user", audit="share"),
    ("DELETE", f"{V}/registry/buckets/{{owner}}/{{name}}/grants/{{subject_kind}}/{{subject}}"):
        Rule("user", audit="unshare"),
    # publishing reads the request namespace's content: edit there, and publish on the bucket
    ("POST", f"{V}/registry/buckets/{{owner}}/{{name}}/versions"): Rule("edit"),
    ("GET", f"{V}/registry/buckets/{{owner}}/{{name}}/versions/{{number}}"): Rule("user"),
    ("GET", f"{V}/registry/buckets/{{owner}}/{{name}}/versions/{{number}}/blobs"):
        Rule("user", audit="export"),
    ("POST", f"{V}/registry/buckets/{{owner}}/{{name}}/versions/{{number}}/pack"):
        Rule("user", reads=True),
    ("GET", f"{V}/subscriptions"): Rule("view"),
    ("POST", f"{V}/subscriptions"): Rule("edit"),
    ("PATCH", f"{V}/subscriptions/{{sid}}"): Rule("edit"),
    ("DELETE", f"{V}/subscriptions/{{sid}}"): Rule("edit"),
    ("POST", f"{V}/subscriptions/{{sid}}/sync"): Rule("edit"),
    # registered models
    ("GET", f"{V}/models"): Rule("view"),
    ("POST", f"{V}/models"): Rule("edit"),
    ("GET", f"{V}/models/{{name}}"): Rule("view", obj=MODEL),
    ("PUT", f"{V}/models/{{name}}/aliases/{{alias}}"): Rule("edit", obj=MODEL),
    ("DELETE", f"{V}/models/{{name}}/aliases/{{alias}}"): Rule("edit", obj=MODEL),
    # served models
    ("GET", f"{V}/services"): Rule("view"),
    ("POST", f"{V}/services"): Rule("edit"),
    ("GET", f"{V}/services/{{name}}"): Rule("view", obj=MODEL),
    ("POST", f"{V}/services/{{name}}/stop"): Rule("edit", obj=MODEL),
    ("POST", f"{V}/services/{{name}}/promote"): Rule("edit", obj=MODEL),
    ("POST", f"{V}/services/{{name}}/rollback"): Rule("edit", obj=MODEL),
}

_SAFE = ("GET", "HEAD", "OPTIONS")
ACTIONS = {"POST": "create", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route, by its path template as the OpenAPI document writes it."""
    return RULES.get(("GET" if method == "HEAD" else method, path))


def _compile(template: str, *, greedy_last: bool) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    out = []
    for i, part in enumerate(parts):
        if part.startswith("{"):
            last = i >= len(parts) - 2 and not parts[-1]
            out.append(".+" if greedy_last and last else "[^/]+")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out) + "$")


# Each method's templates, literal ones first (/runs/compare before /runs/{run_id}); a last
# parameter may hold slashes (/lineage/{ref:path}) when nothing matches otherwise. Matched
# here, on the request's path, rather than read from the router's internals, which differ
# between FastAPI versions.
_MATCHERS: dict[str, list[tuple[re.Pattern[str], re.Pattern[str], str]]] = {}
for (_m, _p) in sorted(RULES, key=lambda k: (k[1].count("{"), k[1])):
    _MATCHERS.setdefault(_m, []).append(
        (_compile(_p, greedy_last=False), _compile(_p, greedy_last=True), _p))


def match(method: str, path: str) -> tuple[str, Rule] | None:
    """The route template and rule a request's method and path fall under."""
    candidates = _MATCHERS.get("GET" if method == "HEAD" else method, [])
    for strict in (True, False):
        for exact, greedy, template in candidates:
            if (exact if strict else greedy).match(path):
                return template, RULES[("GET" if method == "HEAD" else method, template)]
    return None


def check_rules(app: FastAPI) -> None:
    """Every route of the application's OpenAPI document has a rule: a new one without
    fails here, when the application is built."""
    missing = [f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items()
               for m in ops if rule_for(m.upper(), p) is None]
    if missing:
        raise RuntimeError("routes without an access rule in kiln.server.authz.RULES: "
                           + ", ".join(missing))


def request_namespace(request: Request, rule: Rule | None = None) -> str:
    """The namespace a request works in: a path parameter's (namespace routes), else
    ?namespace= or X-Kiln-Namespace, else the server's."""
    if rule is not None and rule.namespace_param:
        return str(request.path_params.get(rule.namespace_param, ""))
    given = request.query_params.get("namespace") or request.headers.get("x-kiln-namespace")
    return given or str(request.app.state.rt.home.namespace)


async def authorize(request: Request) -> None:
    """The dependency every route has (FastAPI(dependencies=...)): find the caller, apply the
    route's rule, and note what the audit log is to record."""
    found = match(request.method, request.url.path)
    if found is None:
        raise PermissionDenied(f"{request.method} {request.url.path} has no access rule",
                               where=request.url.path,
                               hint="a server refuses a route without a rule")
    _, rule = found
    auth = request.app.state.auth
    if auth is None:  # an open server (loopback, one user): everything, as before
        request.state.principal = LOCAL
        return
    try:
        who: Principal | None = auth.identify(request)  # a bad token or cookie: 401 here
    except AuthenticationError:
        if rule.need != "public":
            raise
        who = None  # a stale cookie must not stop anyone signing in again
    request.state.principal = who
    changes = request.method not in _SAFE and not rule.reads
    namespace = request_namespace(request, rule)
    if changes or rule.audit:
        namespaced = rule.namespace_param or rule.need in ("view", "edit", "admin")
        request.scope["kiln.audit"] = {
            "actor": who.name if who else "-", "namespace": namespace if namespaced else None,
            "action": rule.audit or ACTIONS.get(request.method, "change"),
            "target": f"{request.method} {request.url.path}",
            "address": request.client.host if request.client else ""}
    if rule.need == "public":
        return
    if who is None:
        if not auth.identity:
            raise AuthenticationError("this server needs a token", where="Authorization",
                                      hint="send Authorization: Bearer TOKEN, the server's "
                                           "KILN_SERVER_TOKEN (the dashboard asks for it once)")
        raise AuthenticationError("this server needs you to sign in", where="Authorization",
                                  hint="send Authorization: Bearer TOKEN (`kiln login URL` "
                                       "makes one), or sign in on the dashboard")
    auth.check_csrf(request, who, changes)
    from kiln.identity.model import identity_catalog
    from kiln.identity.policy import decide

    obj = _object(rule, request) if rule.obj else None
    need = rule.need
    decide(identity_catalog(request.app.state.rt), who, need, namespace, obj=obj,
           changes=changes, obj_need=rule.obj_need)


def _object(rule: Rule, request: Request) -> Callable[[], tuple[str, str] | None]:
    """The rule's object, found only if a grant is to be looked at (a lookup may cost a
    catalog query)."""
    assert rule.obj is not None
    kind, name = rule.obj

    def find() -> tuple[str, str] | None:
        params = dict(request.path_params)
        k = params.get(kind[1:-1], "") if kind.startswith("{") else kind
        n = params.get(name) if isinstance(name, str) else name(params, request)
        return (k, n) if k and n else None

    return find


def principal(request: Request) -> Principal:
    """The caller authorize found (LOCAL on an open server)."""
    who: Principal | None = getattr(request.state, "principal", None)
    if who is None:
        from kiln.errors import AuthenticationError

        raise AuthenticationError("this needs you to sign in", where="Authorization")
    return who


def describe_rules() -> list[dict[str, Any]]:
    """The rules as data, for docs/security.md and the permission matrix."""
    return [{"method": m, "path": p, "need": r.need, "object": r.obj[0] if r.obj else None,
             "namespace": r.namespace_param or "request"} for (m, p), r in sorted(RULES.items())]
