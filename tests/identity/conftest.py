"""A real `kiln server --auth` on loopback with a small team: a server admin, and in namespace
team-a an admin, an editor and a viewer; a stranger with no role; and a member of team-b."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import kiln_server

ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "team-password-1"
SHARED_TOKEN = "s" * 40


@dataclass
class Team:
    base: str
    tokens: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    opened: list[httpx.Client] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    def client(self, who: str | None, namespace: str = "team-a") -> httpx.Client:
        headers = {"X-Kiln-Namespace": namespace}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.http(headers)

    def http(self, headers: dict[str, str]) -> httpx.Client:
        """A client closed with the server (or earlier, used as a context manager)."""
        client = httpx.Client(base_url=self.api, headers=headers, timeout=60)
        self.opened.append(client)
        return client

    def close(self) -> None:
        for client in self.opened:
            client.close()

    def login(self, user: str, password: str = PASSWORD, **kw: object) -> dict[str, object]:
        r = httpx.post(f"{self.api}/login", json={"username": user, "password": password, **kw},
                       timeout=60)
        assert r.status_code == 201, r.text
        return dict(r.json())


def make_team(base: str) -> Team:
    team = Team(base)
    team.tokens["admin"] = str(team.login("admin", ADMIN_PASSWORD)["token"])
    with team.client("admin") as admin:
        for user in ("ns-admin", "editor", "viewer", "stranger", "other"):
            assert admin.post("/users", json={"name": user, "password": PASSWORD}).status_code \
                == 201
        assert admin.post("/namespaces", json={"name": "team-a", "owner": "ns-admin"}) \
            .status_code == 201
        assert admin.post("/namespaces", json={"name": "team-b", "owner": "other"}) \
            .status_code == 201
        for user, role in (("editor", "edit"), ("viewer", "view")):
            r = admin.put(f"/namespaces/team-a/members/user/{user}", json={"role": role})
            assert r.status_code == 200, r.text
    for user in ("ns-admin", "editor", "viewer", "stranger", "other"):
        team.tokens[user] = str(team.login(user)["token"])
    return team


@pytest.fixture
def team(kiln_home: Path) -> Iterator[Team]:
    log: list[str] = []
    with kiln_server("--auth", env={"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD,
                                    "KILN_SERVER_TOKEN": SHARED_TOKEN}, log=log) as base:
        made = make_team(base)
        made.log = log
        try:
            yield made
        finally:
            made.close()
