"""Browser tests: a real `kiln server` on loopback driven by Playwright through Debian's
headless chromium. The fixture installs chromium with apt when it is missing and we are root
(as in CI); elsewhere the tests are skipped with the command to run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import debian_package, kiln_server

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def chromium() -> str:
    return debian_package("chromium", lambda: shutil.which("chromium") or
                          shutil.which("chromium-browser"))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # module scope, not session: Playwright's sync API keeps an asyncio loop running while it
    # is open, and later tests that call asyncio.run() would fail under it
    playwright = pytest.importorskip("playwright.sync_api")
    path = chromium()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def server(kiln_home: Path) -> Iterator[str]:
    with kiln_server("--no-scheduler") as base:
        yield base


@pytest.fixture
def page(browser, server):  # noqa: ANN001, ANN201 - Playwright's types load lazily
    context = browser.new_context(base_url=server, accept_downloads=True,
                                  viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
