"""A team on one `kiln server --auth`: roles per namespace, grants on one object, tokens
(read-only, revoked, expired), sessions with CSRF protection, sign-in throttling, a trusted
proxy's header, the audit log, and every bad input answered with a clear 4xx and nothing
changed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.conftest import ON_POSTGRES, kiln_server, run_cli
from tests.identity.conftest import ADMIN_PASSWORD, PASSWORD, SHARED_TOKEN, Team


def error(r: httpx.Response) -> str:
    return str(r.json()["error"]["message"])


def test_roles_decide_what_each_member_may_do(team: Team):
    with team.client("editor") as editor, team.client("viewer") as viewer, \
            team.client("stranger") as stranger, team.client("other") as other:
        assert editor.post("/volumes", json={"name": "data"}).status_code == 201
        assert editor.put("/volumes/data/files/content", params={"path": "a.txt"},
                          files={"file": ("a.txt", b"hello")}).status_code == 201
        assert viewer.get("/volumes/data/files").status_code == 200
        r = viewer.post("/volumes", json={"name": "mine"})
        assert r.status_code == 403 and "your role there is view" in error(r)
        for c in (stranger, other):
            r = c.get("/volumes")
            assert r.status_code == 403 and "no role there" in error(r)
        # the namespace picker shows each only what they may enter
        assert viewer.get("/namespaces").json()["namespaces"] == ["team-a"]
        assert viewer.get("/namespaces").json()["roles"] == {"team-a": "view"}
        assert other.get("/namespaces").json()["namespaces"] == ["team-b"]
        assert stranger.get("/namespaces").json()["namespaces"] == []
        # contributors are managed by the namespace's admins only
        r = editor.put("/namespaces/team-a/members/user/stranger", json={"role": "view"})
        assert r.status_code == 403
    with team.client("ns-admin") as ns_admin:
        assert ns_admin.put("/namespaces/team-a/members/user/stranger",
                            json={"role": "view"}).status_code == 200
        r = ns_admin.put("/namespaces/team-b/members/user/stranger", json={"role": "view"})
        assert r.status_code == 403  # an admin of team-a only
    with team.client("stranger") as stranger:
        assert stranger.get("/volumes").status_code == 200


def test_groups_give_their_members_the_group_s_role(team: Team):
    with team.client("admin") as admin:
        assert admin.post("/groups", json={"name": "analysts"}).status_code == 201
        assert admin.put("/groups/analysts/members/stranger").status_code == 200
    with team.client("stranger") as stranger:
        assert stranger.get("/runs").status_code == 403
    with team.client("ns-admin") as ns_admin:
        assert ns_admin.put("/namespaces/team-a/members/group/analysts",
                            json={"role": "view"}).status_code == 200
    with team.client("stranger") as stranger:
        assert stranger.get("/runs").status_code == 200
        me = stranger.get("/whoami").json()
        assert me["groups"] == ["analysts"] and me["namespaces"] == {"team-a": "view"}


def test_a_grant_shares_one_volume_without_opening_the_namespace(team: Team):
    with team.client("editor") as editor:
        for name in ("shared", "private"):
            assert editor.post("/volumes", json={"name": name}).status_code == 201
            editor.put(f"/volumes/{name}/files/content", params={"path": "f.txt"},
                       files={"file": ("f.txt", name.encode())})
        r = editor.put("/grants/volume/shared/user/stranger", json={"level": "read"})
        assert r.status_code == 403  # sharing is for who may manage it
    with team.client("ns-admin") as ns_admin:
        r = ns_admin.put("/grants/volume/shared/user/stranger", json={"level": "read"})
        assert r.status_code == 200, r.text
        assert [g["name"] for g in ns_admin.get("/grants").json()["grants"]] == ["shared"]
    with team.client("stranger") as stranger:
        r = stranger.get("/volumes/shared/files/content", params={"path": "f.txt"})
        assert r.status_code == 200 and r.content == b"shared"
        assert stranger.get("/volumes/shared/snapshots").status_code == 200
        # nothing else: not the other volume, not the list, not a change to the shared one
        assert stranger.get("/volumes/private/files").status_code == 403
        assert stranger.get("/volumes/nope/files").status_code == 403  # existence not told
        assert stranger.get("/volumes").status_code == 403
        assert stranger.put("/volumes/shared/files/content", params={"path": "g.txt"},
                            files={"file": ("g.txt", b"x")}).status_code == 403
        assert stranger.get("/whoami").json()["grants"][0]["name"] == "shared"
    with team.client("ns-admin") as ns_admin:
        ns_admin.put("/grants/volume/shared/user/stranger", json={"level": "edit"})
    with team.client("stranger") as stranger:
        assert stranger.put("/volumes/shared/files/content", params={"path": "g.txt"},
                            files={"file": ("g.txt", b"x")}).status_code == 201
        assert stranger.delete("/volumes/shared").status_code == 403  # deleting: manage


def test_read_only_revoked_and_expired_tokens(team: Team, kiln_home: Path):
    with team.client("editor") as editor:
        made = editor.post("/tokens", json={"name": "dashboards", "read_only": True}).json()
        assert made["token"].startswith("kiln_") and made["read_only"]
        listed = editor.get("/tokens").json()["tokens"]
        assert all("token" not in t for t in listed)  # the secret was shown once
        assert {t["prefix"] for t in listed} >= {made["token"][:12]}
    ro = team.http({"Authorization": f"Bearer {made['token']}", "X-Kiln-Namespace": "team-a"})
    assert ro.get("/volumes").status_code == 200
    r = ro.post("/volumes", json={"name": "nope"})
    assert r.status_code == 403 and "read-only" in error(r)
    # revoked: refused at once
    with team.client("editor") as editor:
        assert editor.delete(f"/tokens/{made['id']}").status_code == 200
    r = ro.get("/volumes")
    assert r.status_code == 401 and "revoked" in error(r)
    # another's token cannot be revoked, nor told apart from one that does not exist
    with team.client("viewer") as viewer:
        editor_tokens = team.client("editor").get("/tokens").json()["tokens"]
        mine = viewer.delete(f"/tokens/{editor_tokens[0]['id']}")
        assert mine.status_code == 404 and viewer.delete("/tokens/999999").status_code == 404
    # expired: a token whose time is up
    short = team.client("viewer").post("/tokens", json={"name": "short",
                                                        "expires_days": 1}).json()
    _expire(kiln_home, short["id"])
    r = httpx.get(f"{team.api}/volumes", headers={"Authorization": f"Bearer {short['token']}"})
    assert r.status_code == 401 and "expired" in error(r)
    # never-expiring tokens are for service accounts only
    r = team.client("viewer").post("/tokens", json={"name": "forever", "expires_days": None})
    assert r.status_code == 400


def _expire(home: Path, token_id: int) -> None:
    """Move a token's expiry into the past, as time would."""
    from sqlalchemy import text

    from kiln.identity.model import identity_catalog

    with identity_catalog().begin() as c:
        c.execute(text("UPDATE tokens SET expires_at = :t WHERE id = :id"),
                  {"t": "2020-01-01 00:00:00.000000" if not ON_POSTGRES else "2020-01-01",
                   "id": token_id})


def test_service_accounts_get_tokens_from_their_namespace_s_admins(team: Team):
    with team.client("ns-admin") as ns_admin:
        r = ns_admin.post("/namespaces/team-a/service-accounts",
                          json={"name": "ci-bot", "role": "edit"})
        assert r.status_code == 201
        made = ns_admin.post("/tokens", json={"name": "ci", "user": "ci-bot",
                                              "expires_days": None})
        assert made.status_code == 201 and made.json()["expires_at"] is None
    with team.client("editor") as editor:  # not an admin of the account's namespace
        assert editor.post("/tokens", json={"name": "ci", "user": "ci-bot"}).status_code == 403
    bot = team.http({"Authorization": f"Bearer {made.json()['token']}",
                     "X-Kiln-Namespace": "team-a"})
    assert bot.post("/volumes", json={"name": "from-ci"}).status_code == 201
    assert bot.get("/volumes", headers={"X-Kiln-Namespace": "team-b"}).status_code == 403
    # a service account never signs in with a password
    r = httpx.post(f"{team.api}/login", json={"username": "ci-bot", "password": "x" * 10})
    assert r.status_code == 401


def test_the_dashboard_session_needs_its_header_for_changes_and_ends(team: Team):
    with httpx.Client(base_url=team.api, timeout=60) as browser:
        r = browser.post("/session", json={"username": "editor", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["user"] == "editor"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/whoami").json()["via"] == "session"
        ns = {"X-Kiln-Namespace": "team-a"}
        r = browser.post("/volumes", json={"name": "csrf"}, headers=ns)
        assert r.status_code == 403 and "X-Kiln-Request" in r.json()["error"]["hint"]
        with team.client("editor") as editor:
            assert all(v["name"] != "csrf" for v in editor.get("/volumes").json())
        r = browser.post("/volumes", json={"name": "csrf"},
                         headers={**ns, "X-Kiln-Request": "1"})
        assert r.status_code == 201
        value = browser.cookies["kiln_session"]
        assert browser.delete("/session").status_code == 200
    # the ended session, and a cookie this server never made (another server's), are refused
    for cookie_value in (value, "kiln_" + "A" * 43):
        r = httpx.get(f"{team.api}/runs", cookies={"kiln_session": cookie_value})
        assert r.status_code == 401 and "sign in again" in r.json()["error"]["hint"]


def test_a_session_cookie_from_another_server_is_refused(team: Team, tmp_path: Path,
                                                       request: pytest.FixtureRequest):
    env = {"KILN_HOME": str(tmp_path / "other-home"), "KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    if ON_POSTGRES:  # the other server has a database of its own too
        server = request.getfixturevalue("postgres")
        env["KILN_DATABASE_URL"] = server.url(server.create_database())
    with kiln_server("--auth", env=env) as other:
        r = httpx.post(f"{other}/api/v1/session",
                       json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200
        theirs = r.cookies["kiln_session"]
    r = httpx.get(f"{team.api}/whoami", cookies={"kiln_session": theirs})
    assert r.status_code == 401


def test_wrong_passwords_slow_down_and_are_logged(team: Team):
    for _ in range(3):
        r = httpx.post(f"{team.api}/session", json={"username": "viewer", "password": "wrong!!!"})
        assert r.status_code == 401 and error(r) == "wrong user name or password"
    r = httpx.post(f"{team.api}/session", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # even the right one
    # an unknown name gets the same answer as a wrong password
    r = httpx.post(f"{team.api}/session", json={"username": "nobody", "password": "wrong!!!"})
    assert r.status_code == 401 and error(r) == "wrong user name or password"
    with team.client("admin") as admin:
        log = admin.get("/audit", params={"everywhere": True}).json()["entries"]
    tries = [e for e in log if e["action"] == "sign-in" and e["actor"] == "viewer"]
    assert [e["status"] for e in tries][:4] == [429, 401, 401, 401]


def test_secrets_stay_out_of_urls_and_logs(team: Team):
    made = team.client("editor").post("/tokens", json={"name": "secret-check"}).json()
    httpx.post(f"{team.api}/session", json={"username": "editor", "password": "not-it-123"})
    # a token in the query string is not accepted (it would end up in logs and history)
    r = httpx.get(f"{team.api}/runs", params={"token": made["token"],
                                               "access_token": made["token"]})
    assert r.status_code == 401
    with team.client("admin") as admin:
        entries = admin.get("/audit", params={"everywhere": True, "limit": 1000}).json()
    text = str(entries)
    assert made["token"] not in text and "not-it-123" not in text


def test_the_server_log_holds_no_secrets(kiln_home: Path):
    log: list[str] = []
    with kiln_server("--auth", env={"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}, log=log) as base:
        r = httpx.post(f"{base}/api/v1/login", json={"username": "admin",
                                                     "password": ADMIN_PASSWORD})
        token = r.json()["token"]
        httpx.get(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {token}"})
        for _ in range(4):
            httpx.post(f"{base}/api/v1/session", json={"username": "admin",
                                                       "password": "guess-1234"})
    assert "wrong password for user:admin" in log[0]  # failures are logged ...
    assert token not in log[0] and ADMIN_PASSWORD not in log[0] and "guess-1234" not in log[0]


def test_first_start_writes_the_admin_password_to_a_private_file(kiln_home: Path):
    log: list[str] = []
    with kiln_server("--auth", log=log) as base:
        secret = kiln_home / "initial-admin-password"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        password = secret.read_text().strip()
        r = httpx.post(f"{base}/api/v1/login", json={"username": "admin", "password": password})
        assert r.status_code == 201
        me = httpx.get(f"{base}/api/v1/whoami",
                       headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
        assert me["admin"] and me["namespaces"] == {"default": "admin"}
    assert password not in log[0] and str(secret) in log[0]


def test_the_shared_token_is_still_an_admin_token(team: Team):
    shared = team.http({"Authorization": f"Bearer {SHARED_TOKEN}"})
    me = shared.get("/whoami").json()
    assert me["admin"] and me["via"] == "admin-token"
    assert shared.get("/users").status_code == 200
    assert shared.get("/volumes", params={"namespace": "team-b"}).status_code in (200, 404)
    r = httpx.get(f"{team.api}/users", headers={"Authorization": "Bearer " + "t" * 40})
    assert r.status_code == 401


def test_bad_input_is_refused_and_changes_nothing(team: Team):
    with team.client("admin") as admin:
        users = admin.get("/users").json()
        r = admin.post("/users", json={"name": "editor", "password": PASSWORD})
        assert r.status_code == 409 and "already a user" in error(r)
        for bad in ("Editor", "../x", "a b", "é", "-x"):
            r = admin.post("/users", json={"name": bad, "password": PASSWORD})
            assert r.status_code == 400 and "not a user name" in error(r), bad
        r = admin.post("/users", json={"name": "short", "password": "123"})
        assert r.status_code == 400 and "at least 8" in error(r)
        assert admin.get("/users").json() == users
        assert admin.post("/groups", json={"name": "g1"}).status_code == 201
        r = admin.post("/groups", json={"name": "g1"})
        assert r.status_code == 409 and "already a group" in error(r)
        r = admin.put("/namespaces/team-a/members/user/ghost", json={"role": "edit"})
        assert r.status_code == 404 and "no user 'ghost'" in error(r)
        r = admin.put("/namespaces/team-a/members/user/viewer", json={"role": "owner"})
        assert r.status_code == 422
        members = admin.get("/namespaces/team-a/members").json()
        # the last admin of a namespace stays
        r = admin.put("/namespaces/team-a/members/user/ns-admin", json={"role": "edit"})
        assert r.status_code == 409 and "last admin" in error(r)
        r = admin.delete("/namespaces/team-a/members/user/ns-admin")
        assert r.status_code == 409
        r = admin.delete("/users/ns-admin")
        assert r.status_code == 409 and "owns the namespace team-a" in error(r)
        r = admin.post("/namespaces", json={"name": "team-a", "owner": "editor"})
        assert r.status_code == 409
        assert admin.get("/namespaces/team-a/members").json() == members
        # the server's last admin stays an admin
        r = admin.patch("/users/admin", json={"admin": False})
        assert r.status_code == 409 and "last admin" in error(r)
        r = admin.put("/grants/volume/x/user/nobody", json={"level": "read"})
        assert r.status_code == 404
        r = admin.put("/grants/volume/x/user/viewer", json={"level": "own"})
        assert r.status_code == 422
        r = admin.put("/grants/widget/x/user/viewer", json={"level": "read"})
        assert r.status_code == 400 and "can be shared" in error(r)


def test_a_disabled_account_stops_at_once(team: Team):
    with team.client("admin") as admin:
        assert admin.patch("/users/viewer", json={"disabled": True}).status_code == 200
    r = team.client("viewer").get("/runs")
    assert r.status_code == 401
    r = httpx.post(f"{team.api}/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 401


def test_a_proxy_s_user_header_counts_only_when_configured(kiln_home: Path):
    env = {"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    # not configured: the header is nobody
    with kiln_server("--auth", env=env) as base:
        r = httpx.get(f"{base}/api/v1/whoami", headers={"kubeflow-userid": "admin"})
        assert r.status_code == 401
    # configured, from a trusted address: that user (made on first visit, with no role)
    with kiln_server("--auth", "--proxy-user-header", "kubeflow-userid",
                     "--proxy-user-prefix", "accounts.google.com:",
                     "--trusted-proxy", "127.0.0.1", env=env) as base:
        h = {"kubeflow-userid": "accounts.google.com:ann@example.com"}
        me = httpx.get(f"{base}/api/v1/whoami", headers=h).json()
        assert me["name"] == "ann@example.com" and me["via"] == "proxy"
        assert httpx.get(f"{base}/api/v1/runs", headers=h).status_code == 403
        r = httpx.get(f"{base}/api/v1/whoami", headers={"kubeflow-userid": "ann@example.com"})
        assert r.status_code == 401  # without the proxy's prefix
    # configured, but the request is not from the proxy: the header is ignored
    with kiln_server("--auth", "--proxy-user-header", "kubeflow-userid",
                     "--trusted-proxy", "10.9.9.9", env=env) as base:
        r = httpx.get(f"{base}/api/v1/whoami", headers={"kubeflow-userid": "admin"})
        assert r.status_code == 401
    r = run_cli("server", "--auth", "--proxy-user-header", "kubeflow-userid")
    assert r.returncode == 2 and "--trusted-proxy" in r.stderr


def test_binding_beyond_loopback_needs_auth(tmp_path: Path):
    r = run_cli("server", "--host", "0.0.0.0", "--port", "1",
                env={"KILN_SERVER_TOKEN": SHARED_TOKEN})
    assert r.returncode == 2 and "without --auth" in r.stderr


def test_the_cli_signs_in_and_keeps_its_token_private(team: Team, tmp_path: Path):
    config = tmp_path / "config"
    env = {"XDG_CONFIG_HOME": str(config)}
    r = run_cli("login", team.base, "--user", "editor", "--password-stdin", env=env,
                input_text=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    stored = config / "kiln" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert PASSWORD not in stored.read_text()
    r = run_cli("whoami", env=env)
    assert r.returncode == 0 and r.stdout.startswith("editor (person, via token")
    assert "team-a: edit" in r.stdout
    r = run_cli("token", "create", "laptop", "--read-only", env=env)
    assert r.returncode == 0 and r.stdout.strip().startswith("kiln_")
    r = run_cli("token", "ls", "--json", env=env)
    names = [t["name"] for t in json.loads(r.stdout)]
    assert "laptop" in names
    # the stored token works for other commands against KILN_URL
    r = run_cli("volume", "ls", env={**env, "KILN_URL": team.base, "KILN_NAMESPACE": "team-a"})
    assert r.returncode == 0, r.stderr
    r = run_cli("user", "ls", env=env)  # not a server admin
    assert r.returncode == 2 and "not a server admin" in r.stderr
    r = run_cli("logout", env=env)
    assert r.returncode == 0 and "revoked" in r.stdout
    r = run_cli("whoami", env={**env, "KILN_URL": team.base})
    assert r.returncode == 2 and "sign in" in r.stderr
    r = run_cli("login", team.base, "--user", "editor", "--password-stdin", env=env,
                input_text="wrong-password\n")
    assert r.returncode == 2 and "wrong user name or password" in r.stderr


def test_admin_commands_work_on_the_server_s_own_machine(kiln_home: Path):
    """Without a server (no KILN_URL, no login), the same commands act on KILN_HOME."""
    env = {"XDG_CONFIG_HOME": str(kiln_home / "cfg")}
    assert run_cli("user", "add", "ann", "--password-stdin", env=env,
                   input_text="ann-password\n").returncode == 0
    r = run_cli("user", "add", "ann", "--password-stdin", env=env, input_text="x" * 9 + "\n")
    assert r.returncode == 2 and "already a user" in r.stderr
    assert run_cli("namespace", "create", "team-a", "--owner", "ann", env=env).returncode == 0
    r = run_cli("namespace", "bind", "team-a", "--user", "ghost", "--role", "edit", env=env)
    assert r.returncode == 3 and "no user 'ghost'" in r.stderr
    r = run_cli("namespace", "unbind", "team-a", "--user", "ann", env=env)
    assert r.returncode == 2 and "owns namespace" in r.stderr
    r = run_cli("whoami", env=env)
    assert "everything allowed" in r.stdout


def test_the_audit_log_says_who_changed_shared_or_exported_what(team: Team):
    with team.client("editor") as editor:
        editor.post("/volumes", json={"name": "logged"})
        editor.put("/volumes/logged/files/content", params={"path": "x.csv"},
                   files={"file": ("x.csv", b"1,2")})
        assert editor.get("/volumes/logged/files/content", params={"path": "x.csv"}).content \
            == b"1,2"
        editor.get("/volumes/logged/files")  # a plain read is not logged
    with team.client("viewer") as viewer:
        assert viewer.delete("/volumes/logged").status_code == 403
    with team.client("ns-admin") as ns_admin:
        ns_admin.put("/grants/volume/logged/user/stranger", json={"level": "read"})
        entries = ns_admin.get("/audit").json()["entries"]
        assert ns_admin.get("/audit", params={"everywhere": True}).status_code == 403
    seen = [(e["actor"], e["action"], e["target"], e["status"]) for e in reversed(entries)]
    assert seen[:2] == [("admin", "share", "PUT /api/v1/namespaces/team-a/members/user/editor",
                         200),
                        ("admin", "share", "PUT /api/v1/namespaces/team-a/members/user/viewer",
                         200)]  # the fixture's bindings
    assert seen[2:] == [
        ("editor", "create", "POST /api/v1/volumes", 201),
        ("editor", "change", "PUT /api/v1/volumes/logged/files/content", 201),
        ("editor", "export", "GET /api/v1/volumes/logged/files/content", 200),
        ("viewer", "delete", "DELETE /api/v1/volumes/logged", 403),
        ("ns-admin", "share", "PUT /api/v1/grants/volume/logged/user/stranger", 200)]
    assert {e["namespace"] for e in entries} == {"team-a"}
