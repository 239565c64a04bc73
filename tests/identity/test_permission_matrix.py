"""The permission matrix, generated from the server's own OpenAPI document: every route and
method, asked by a server admin, a namespace admin, an editor, a viewer, a user with no role,
a member of another namespace, an expired token, a revoked token and no token at all. Each
answer must be what the route's rule (kiln.server.authz.RULES) says — allowed (any answer but
401 or 403), 403 or 401 — and a refused request must leave every record and file as it was.

A route added without a rule fails here (and the server refuses to start)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import httpx
import pytest

from kiln.identity.model import rank
from kiln.server.authz import RULES, check_rules, rule_for
from tests.identity.conftest import Team

MODULE = b'''
import kiln

@kiln.step
def make(n: int) -> list:
    return list(range(n))

@kiln.pipeline(name="pipe")
def pipe(n: int = 3):
    make(n)
'''

# Each caller's role in namespace team-a (None: none), or how its credentials are bad.
CALLERS: dict[str, str | None] = {
    "admin": "server-admin", "ns-admin": "admin", "editor": "edit", "viewer": "view",
    "stranger": None, "other": None, "expired": "bad", "revoked": "bad", "nobody": "nobody"}


# The matrix, written apart from the server's rules so that loosening a rule fails here: a
# read needs view and a change needs edit in the namespace, but for these.
V = "/api/v1"
MATRIX: dict[tuple[str, str], str] = {
    **{k: "public" for k in [("GET", f"{V}/health"), ("POST", f"{V}/session"),
                             ("DELETE", f"{V}/session"), ("POST", f"{V}/login")]},
    **{k: "user" for k in [("GET", f"{V}/whoami"), ("GET", f"{V}/namespaces"),
                           ("GET", f"{V}/tokens"), ("POST", f"{V}/tokens"),
                           ("DELETE", f"{V}/tokens/{{token_id}}"), ("GET", f"{V}/groups")]},
    # registry buckets are the server's: signed in, then the bucket decides (test_buckets.py)
    **{(m, f"{V}/registry/buckets{p}"): "user" for m, p in [
        ("GET", ""), ("GET", "/{owner}/{name}"), ("PATCH", "/{owner}/{name}"),
        ("DELETE", "/{owner}/{name}"), ("GET", "/{owner}/{name}/versions/{number}"),
        ("GET", "/{owner}/{name}/versions/{number}/blobs"),
        ("POST", "/{owner}/{name}/versions/{number}/pack"),
        ("PUT", "/{owner}/{name}/grants/{subject_kind}/{subject}"),
        ("DELETE", "/{owner}/{name}/grants/{subject_kind}/{subject}")]},
    **{k: "server-admin" for k in [
        ("GET", f"{V}/users"), ("POST", f"{V}/users"), ("PATCH", f"{V}/users/{{name}}"),
        ("DELETE", f"{V}/users/{{name}}"), ("POST", f"{V}/groups"),
        ("DELETE", f"{V}/groups/{{name}}"), ("PUT", f"{V}/groups/{{name}}/members/{{user}}"),
        ("DELETE", f"{V}/groups/{{name}}/members/{{user}}"), ("POST", f"{V}/namespaces"),
        ("PUT", f"{V}/namespaces/{{ns}}/owner"), ("GET", f"{V}/export/kubeflow-profiles")]},
    **{k: "admin" for k in [
        ("PUT", f"{V}/namespaces/{{ns}}/members/{{kind}}/{{subject}}"),
        ("DELETE", f"{V}/namespaces/{{ns}}/members/{{kind}}/{{subject}}"),
        ("POST", f"{V}/namespaces/{{ns}}/service-accounts"), ("GET", f"{V}/audit"),
        ("PUT", f"{V}/grants/{{kind}}/{{name}}/{{subject_kind}}/{{subject}}"),
        ("DELETE", f"{V}/grants/{{kind}}/{{name}}/{{subject_kind}}/{{subject}}")]},
}


def need_of(method: str, path: str) -> str:
    return MATRIX.get((method, path), "view" if method == "GET" else "edit")


def expected(need: str, caller: str) -> int | None:
    """None: allowed; else the status the caller must get."""
    role = CALLERS[caller]
    if need == "public":
        return None
    if role in ("bad", "nobody"):
        return 401
    if role == "server-admin" or need == "user":
        return None
    if need == "server-admin":
        return 403
    return None if rank(role) >= rank(need) else 403


def fingerprint(home: Path) -> str:
    """Every record (but the audit log, sign-in failures and tokens' last use) of the server's
    catalogs, and every file's path and size: what a refused request must not change."""
    from sqlalchemy import select

    from kiln.catalog import tables
    from kiln.home import Home
    from kiln.runtime import Runtime

    h = hashlib.sha256()
    for ns in ("default", "team-a", "team-b"):
        cat = Runtime.open(Home(home.resolve(), ns)).catalog
        with cat.connect() as c:
            for table in tables.metadata.sorted_tables:
                if table.name in ("audit_log", "login_failures"):
                    continue
                cols = [col for col in table.columns if col.name != "last_used_at"]
                rows = sorted(repr(tuple(r)) for r in c.execute(select(*cols)))
                h.update(f"{ns}.{table.name}:{rows}".encode())
    for path in sorted(home.rglob("*")):
        if path.is_file() and not re.search(r"\.(db|db-wal|db-shm|lock)$|/logs?/", str(path)):
            h.update(f"{path.relative_to(home)}:{path.stat().st_size}".encode())
    return h.hexdigest()


def fill(path: str, run_id: str) -> str:
    """A path template with real names where the setup made something, harmless ones else."""
    values = {"run_id": run_id, "step": "make", "number": "1", "token_id": "999999",
              "ns": "team-a", "a": "data:latest", "b": "data:latest", "user": "nobody-x",
              "subject": "nobody-x", "subject_kind": "user", "owner": "editor",
              "sid": "999", "alias": "production"}
    by_prefix = {"/api/v1/volumes/": "data", "/api/v1/pipelines/": "pipe",
                 "/api/v1/schedules/": "nightly", "/api/v1/notebooks/": "nb",
                 "/api/v1/services/": "svc", "/api/v1/users/": "nobody-x",
                 "/api/v1/groups/": "nogroup", "/api/v1/grants/": "data",
                 "/api/v1/registry/": "feat", "/api/v1/models/": "churn"}

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "name":
            return next((v for p, v in by_prefix.items() if path.startswith(p)), "output")
        if name == "kind":
            return "volume" if path.startswith("/api/v1/grants/") else "user"
        if name == "ref":
            return "data:latest" if path.startswith("/api/v1/snapshots/") else "x"
        return values[name]

    return re.sub(r"\{(\w+)\}", one, path)


def setup_objects(team: Team, kiln_home: Path) -> str:
    with team.client("editor") as editor:
        empty = fingerprint(kiln_home)
        assert editor.post("/volumes", json={"name": "data"}).status_code == 201
        assert fingerprint(kiln_home) != empty  # it sees a change when there is one
        editor.put("/volumes/data/files/content", params={"path": "a.txt"},
                   files={"file": ("a.txt", b"a")})
        assert editor.post("/volumes/data/snapshots", json={}).status_code == 201
        r = editor.post("/pipelines", files={"file": ("pipe.py", MODULE)})
        assert r.status_code == 201, r.text
        run = editor.post("/runs", json={"pipeline": "pipe"}).json()
        deadline = time.monotonic() + 60
        while editor.get(f"/runs/{run['id']}").json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        return str(run["id"])


def bad_tokens(team: Team) -> None:
    from tests.identity.test_team_server import _expire

    with team.client("editor") as editor:
        expired = editor.post("/tokens", json={"name": "expired", "expires_days": 1}).json()
        revoked = editor.post("/tokens", json={"name": "revoked"}).json()
        assert editor.delete(f"/tokens/{revoked['id']}").status_code == 200
    _expire(Path(), expired["id"])
    team.tokens["expired"], team.tokens["revoked"] = expired["token"], revoked["token"]


def test_every_route_answers_each_caller_as_its_rule_says(team: Team, kiln_home: Path):
    run_id = setup_objects(team, kiln_home)
    bad_tokens(team)
    doc = httpx.get(f"{team.base}/openapi.json", timeout=60).json()
    routes = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]
    assert len(routes) > 80
    clients = {c: team.client(None if c == "nobody" else c) for c in CALLERS}
    seen: list[str] = []
    for method, path in routes:
        rule = rule_for(method, path)
        assert rule is not None, f"{method} {path} has no access rule"
        need = need_of(method, path)
        assert rule.need == need, f"{method} {path}: the server says {rule.need}, the " \
                                  f"matrix {need}"
        url = fill(path, run_id).removeprefix("/api/v1")
        # the refused first, each against the records as they were just before
        order = sorted(CALLERS, key=lambda c: expected(need, c) is None)
        for caller in order:
            want = expected(need, caller)
            before = fingerprint(kiln_home) if want is not None else None
            r = clients[caller].request(method, url)
            got = r.status_code
            where = f"{method} {path} as {caller}: {got} {r.text[:200]}"
            if want is None:
                assert got not in (401, 403), where
            else:
                assert got == want, where
                assert r.json()["error"]["message"], where
                assert fingerprint(kiln_home) == before, f"{where} changed something"
            seen.append(f"{method} {path} {caller}")
    assert len(seen) == len(routes) * len(CALLERS)


def test_rules_and_routes_are_the_same_set(team: Team):
    doc = httpx.get(f"{team.base}/openapi.json", timeout=60).json()
    routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert set(RULES) - routes == {("GET", "/")}  # the dashboard's page is not in the API


def test_a_route_without_a_rule_stops_the_server_being_built():
    from kiln.server.app import create_app

    app = create_app()
    check_rules(app)

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    app.openapi_schema = None  # the document is made again, with the new route
    with pytest.raises(RuntimeError, match="GET /api/v1/forgotten"):
        check_rules(app)


def test_docs_security_lists_every_rule():
    """docs/security.md's table of rules is the rules: regenerate it when one changes."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for (method, path), rule in RULES.items():
        line = next((x for x in doc.splitlines()
                     if x.startswith(f"| `{method} {path.removeprefix('/api/v1')}` |")), None)
        assert line is not None and f"| {rule.need} |" in line, f"{method} {path}"
