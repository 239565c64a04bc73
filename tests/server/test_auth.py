"""`kiln server` with a token: API requests need it (a header, or the dashboard's session
cookie, never the URL), the dashboard's files and health stay open, and binding beyond
loopback without one is refused."""

from __future__ import annotations

import httpx

from tests.conftest import kiln_server, run_cli


def test_a_token_guards_the_api(monkeypatch):
    monkeypatch.setenv("KILN_SERVER_TOKEN", "s3cret-token")
    with kiln_server("--no-scheduler") as base:
        r = httpx.get(f"{base}/api/v1/runs")
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "this server needs a token"
        assert r.json()["error"]["where"] == "Authorization"
        r = httpx.get(f"{base}/api/v1/runs", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "wrong" in r.json()["error"]["message"]
        ok = httpx.get(f"{base}/api/v1/runs", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        # never in the address: history and proxy logs keep addresses
        assert httpx.get(f"{base}/api/v1/runs", params={"token": "s3cret-token"}).status_code \
            == 401
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
        assert httpx.get(f"{base}/").status_code == 200  # the dashboard asks for it itself
        assert httpx.post(f"{base}/api/v1/volumes", json={"name": "x"}).status_code == 401


def test_the_dashboard_signs_in_with_a_cookie_and_changes_need_its_header(monkeypatch):
    token = "a-server-token-of-thirty-two-chars!"
    monkeypatch.setenv("KILN_SERVER_TOKEN", token)
    with kiln_server("--no-scheduler") as base:
        api = f"{base}/api/v1"
        r = httpx.post(f"{api}/session", json={"token": "wrong"})
        assert r.status_code == 401 and "set-cookie" not in r.headers
        assert httpx.post(f"{api}/session", content=b"not json").status_code == 422
        r = httpx.post(f"{api}/session", json={"token": token})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/api/" in cookie
        assert token not in cookie  # the cookie holds a keyed hash, not the token
        with httpx.Client(base_url=api, cookies=r.cookies) as browser:
            assert browser.get("/runs").status_code == 200
            # a change on the strength of the cookie alone: what a page of another site could
            # make the browser send
            r = browser.post("/volumes", json={"name": "v1"})
            assert r.status_code == 403 and "X-Kiln-Request" in r.json()["error"]["hint"]
            r = browser.post("/volumes", json={"name": "v1"}, headers={"x-kiln-request": "1"})
            assert r.status_code != 403 and r.status_code != 401
            assert browser.delete("/session").status_code == 200
        forged = httpx.get(f"{api}/runs", cookies={"kiln_session": "0" * 64})
        assert forged.status_code == 401


def test_binding_beyond_loopback_needs_a_token(tmp_path):
    r = run_cli("server", "--host", "0.0.0.0", "--port", "1")
    assert r.returncode != 0 and "without --auth" in r.stderr and "--insecure" in r.stderr
    empty = tmp_path / "token"
    empty.write_text("\n")
    r = run_cli("server", "--token-file", str(empty))
    assert r.returncode != 0 and "empty" in r.stderr


def test_every_answer_carries_the_security_headers(api):
    for path in ("/health", "/runs", "/volumes/nope"):
        r = api.get(path)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    base = str(api.base_url).split("/api/v1")[0]
    page = httpx.get(base + "/", timeout=30)
    assert page.status_code == 200 and "script-src 'self'" in page.headers[
        "content-security-policy"]


def test_a_short_token_is_refused_beyond_loopback(tmp_path):
    token = tmp_path / "t"
    token.write_text("short-secret")
    r = run_cli("server", "--host", "0.0.0.0", "--port", "0", "--token-file", str(token))
    assert r.returncode == 2 and "at least 32" in r.stderr
