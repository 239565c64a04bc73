"""`kiln server` with a token: API requests need it (header or ?token=), the dashboard's files
and health stay open, and binding beyond loopback without one is refused."""

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
        assert httpx.get(f"{base}/api/v1/runs", params={"token": "s3cret-token"}).status_code \
            == 200  # links (downloads) carry it in the address
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
        assert httpx.get(f"{base}/").status_code == 200  # the dashboard asks for it itself
        assert httpx.post(f"{base}/api/v1/volumes", json={"name": "x"}).status_code == 401


def test_binding_beyond_loopback_needs_a_token(tmp_path):
    r = run_cli("server", "--host", "0.0.0.0", "--port", "1")
    assert r.returncode != 0 and "without a token" in r.stderr and "--insecure" in r.stderr
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
