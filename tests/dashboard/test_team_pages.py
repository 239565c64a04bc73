"""The dashboard on a `kiln server --auth`: the sign-in form, the namespace picker showing
only the namespaces one may enter, a namespace's members page (add, change, remove a
contributor; the last admin kept), one's tokens (made, shown once, revoked), and signing
out. Headless chromium, as the other dashboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import kiln_server
from tests.dashboard.conftest import shot
from tests.identity.conftest import ADMIN_PASSWORD, PASSWORD, Team, make_team


@pytest.fixture
def team(kiln_home: Path) -> Iterator[Team]:
    with kiln_server("--auth", "--no-scheduler",
                     env={"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}) as base:
        made = make_team(base)
        try:
            yield made
        finally:
            made.close()


def sign_in(pg, user: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    form = pg.locator("#signin")
    form.wait_for()
    form.locator("input[name=username]").fill(user)
    form.locator("input[name=password]").fill(password)
    form.get_by_role("button", name="Sign in").click()


def test_sign_in_members_tokens_and_sign_out(browser, team: Team):  # noqa: ANN001
    context = browser.new_context(base_url=team.base, viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(30_000)
    urls: list[str] = []
    pg.on("request", lambda r: urls.append(r.url))
    pg.goto("/#/members")
    shot(pg, "signin")
    sign_in(pg, "ns-admin", "not-the-password")
    pg.locator("#signin-error").get_by_text("wrong user name or password").wait_for()
    sign_in(pg, "ns-admin")
    pg.get_by_role("heading", name="Members of team-a").wait_for()
    assert pg.locator("#who-name").inner_text() == "ns-admin"
    # only the namespaces ns-admin may enter, and no way to make new ones
    options = pg.locator("#namespace option").all_inner_texts()
    assert options == ["team-a (admin)"]
    rows = pg.locator("#members tbody tr")
    assert rows.count() == 3  # ns-admin (owner), editor, viewer
    # add a contributor, change a role, remove one
    form = pg.locator("#add-member")
    form.locator("input[name=name]").fill("stranger")
    form.locator("select[name=role]").select_option("view")
    form.get_by_role("button", name="Add contributor").click()
    pg.locator('tr[data-member="user:stranger"]').wait_for()
    pg.locator('tr[data-member="user:stranger"] select').select_option("edit")
    pg.locator("#flash").get_by_text("stranger is now edit").wait_for()
    members = httpx.get(f"{team.api}/namespaces/team-a/members", headers={
        "Authorization": f"Bearer {team.tokens['admin']}"}).json()["members"]
    assert {"kind": "user", "name": "stranger", "role": "edit"} in members
    # the owner cannot be removed here, and the last admin cannot be demoted
    assert pg.locator('tr[data-member="user:ns-admin"] button').count() == 0
    pg.locator('tr[data-member="user:ns-admin"] select').select_option("view")
    pg.locator("#flash").get_by_text("last admin").wait_for()
    pg.locator('tr[data-member="user:viewer"] button', has_text="Remove").click()
    pg.locator('tr[data-member="user:viewer"]').wait_for(state="detached")
    shot(pg, "members")
    # tokens: made, shown once, listed by prefix, revoked
    pg.goto("/#/account")
    pg.get_by_role("heading", name="Tokens of ns-admin").wait_for()
    pg.locator("#new-token input[name=name]").fill("notebook-cli")
    pg.locator("#new-token input[name=read_only]").check()
    pg.get_by_role("button", name="Make a token").click()
    secret = pg.locator("#token-secret").inner_text()
    assert secret.startswith("kiln_")
    me = httpx.get(f"{team.api}/whoami", headers={"Authorization": f"Bearer {secret}"}).json()
    assert me["name"] == "ns-admin" and me["read_only"]
    row = pg.locator("#tokens tbody tr", has_text="notebook-cli")
    assert secret[:12] in row.inner_text() and secret not in row.inner_text()
    shot(pg, "tokens")
    row.get_by_role("button", name="Revoke").click()
    pg.locator("#tokens tbody tr", has_text="notebook-cli").get_by_text("revoked").wait_for()
    r = httpx.get(f"{team.api}/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    # signing out ends the session: the next page asks again
    pg.locator("#sign-out").click()
    pg.locator("#signin").wait_for()
    assert not any(PASSWORD in u or secret in u for u in urls)
    context.close()
    assert not errors, errors


def test_a_viewer_sees_but_cannot_change_members(browser, team: Team):  # noqa: ANN001
    context = browser.new_context(base_url=team.base)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto("/#/members")
    sign_in(pg, "viewer")
    pg.get_by_role("heading", name="Members of team-a").wait_for()
    assert pg.locator("#add-member").count() == 0
    assert pg.locator("#members select[disabled]").count() == 3
    pg.goto("/#/runs")
    pg.get_by_role("heading", name="Runs").wait_for()
    context.close()
