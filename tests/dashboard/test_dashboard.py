"""The dashboard in headless chromium: start a run from the form and watch it finish, read a
step's logs, compare runs, upload/download/delete in the file manager, restore a snapshot.
Screenshots of each page go to test-output/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import shot

pytestmark = pytest.mark.browser

MODULE = '''
import time
import kiln

@kiln.step
def make(n: int, pause: float) -> list:
    print(f"making {n} numbers")
    time.sleep(pause)
    return list(range(n))

@kiln.step
def total(xs: list) -> int:
    for i in range(len(xs)):
        kiln.log_metric("partial", sum(xs[: i + 1]), step=i)
    kiln.log_metric("total", sum(xs))
    print("total is", sum(xs))
    return sum(xs)

@kiln.pipeline(name="sums", experiment="ui")
def sums(n: int = 4, pause: float = 0.0, tag: str = "a"):
    total(make(n, pause))
'''


def upload(server: str, tmp_path: Path) -> None:
    r = httpx.post(f"{server}/api/v1/pipelines", files={"file": ("sums.py", MODULE.encode())},
                   data={"entry": "sums"})
    assert r.status_code == 201, r.text


def wait_status(server: str, run_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{server}/api/v1/runs/{run_id}").json()["status"]
        if status != "running":
            return str(status)
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} still running")


def test_start_a_run_from_the_form_and_watch_it_finish(page, server, tmp_path):
    upload(server, tmp_path)
    page.goto("/#/")
    page.get_by_role("link", name="sums").first.wait_for()
    shot(page, "home")
    page.goto("/#/pipelines/sums")
    page.locator("svg.dag g.node[data-step='make']").wait_for()
    form = page.locator("#run-form")
    assert form.locator("input[name=n]").get_attribute("type") == "number"
    form.locator("input[name=n]").fill("7")
    form.locator("input[name=pause]").fill("1.5")
    form.locator("input[name=labels]").fill("team=vision")
    shot(page, "pipeline")
    form.locator("#start-run").click()
    page.wait_for_url(re.compile(r".*#/runs/[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    # the page follows the run live: it shows running, then succeeded, without a reload
    page.locator("h1 .badge[data-status=succeeded]").wait_for(timeout=90_000)
    assert page.locator("svg.dag g.node[data-step='total']").get_attribute("data-status") == \
        "succeeded"
    page.locator("svg.dag g.node[data-step='make']").click()
    page.locator("#logs").filter(has_text="making 7 numbers").wait_for()
    page.locator("svg.dag g.node[data-step='total']").click()
    page.locator("#logs").filter(has_text="total is 21").wait_for()
    page.locator("button[data-preview=output]").click()
    page.locator("#preview").filter(has_text="21").wait_for()
    assert page.locator("svg.chart[data-title=partial] path.line").count() == 1
    assert "team=vision" in page.locator(".tag").first.inner_text()
    shot(page, "run")
    run = httpx.get(f"{server}/api/v1/runs/{run_id}").json()
    assert run["params"]["n"] == 7 and run["labels"] == {"team": "vision"}


def test_compare_two_runs(page, server, tmp_path):
    upload(server, tmp_path)
    ids = [httpx.post(f"{server}/api/v1/runs", json={"pipeline": "sums", "params": {"n": n}},
                      timeout=60).json()["id"] for n in (3, 5)]
    for i in ids:
        assert wait_status(server, i) == "succeeded"
    page.goto("/#/runs")
    for i in ids:
        page.locator(f"input[data-select='{i}']").check()
    shot(page, "runs")
    page.locator("#compare").click()
    page.wait_for_url(re.compile(r".*#/compare\?ids=.*"))
    row = page.locator("#compare-params tr", has_text="n").first
    row.wait_for()
    assert "diff" in (row.get_attribute("class") or "")
    totals = page.locator("#compare-metrics tr", has_text="total").inner_text()
    assert "3" in totals and "10" in totals
    assert page.locator("svg.chart[data-title=partial] path.line").count() == 2
    shot(page, "compare")


def test_file_manager_upload_download_delete(page, server, tmp_path):
    httpx.post(f"{server}/api/v1/volumes", json={"name": "data"})
    src = tmp_path / "hello.csv"
    src.write_text("a,b\n1,2\n")
    page.goto("/#/volumes/data")
    page.locator("#upload-file").set_input_files(str(src))
    page.locator("#upload-form button").click()
    page.locator("#files tr[data-path='hello.csv']").wait_for()
    shot(page, "volume")
    with page.expect_download() as dl:
        page.locator("#files tr[data-path='hello.csv'] a").click()
    assert Path(dl.value.path()).read_text() == "a,b\n1,2\n"
    page.locator("button[data-delete='hello.csv']").click()
    page.locator("#files tr[data-path='hello.csv']").wait_for(state="detached")
    files = httpx.get(f"{server}/api/v1/volumes/data/files").json()
    assert files == []


def test_restore_a_snapshot_into_a_new_volume(page, server, tmp_path):
    api = f"{server}/api/v1"
    httpx.post(f"{api}/volumes", json={"name": "data"})
    httpx.put(f"{api}/volumes/data/files/content", params={"path": "model/w.txt"},
              files={"file": ("w.txt", b"version 1")})
    page.goto("/#/volumes/data")
    page.locator("#snapshot-form input[name=message]").fill("first")
    page.locator("#snapshot-form button").click()
    page.locator("#snapshots li").first.wait_for()
    httpx.put(f"{api}/volumes/data/files/content", params={"path": "model/w.txt"},
              files={"file": ("w.txt", b"version 2, longer")})
    httpx.put(f"{api}/volumes/data/files/content", params={"path": "notes.txt"},
              files={"file": ("notes.txt", b"new in the second")})
    page.locator("#snapshot-form input[name=message]").fill("second")
    page.locator("#snapshot-form button").click()
    page.locator("#snapshots li").nth(1).wait_for()
    boxes = page.locator("#snapshots li input[type=checkbox]")
    # ticked newest first, then oldest, and the other way: the diff reads older -> newer
    for order in ((0, 1), (1, 0)):
        for i in order:
            boxes.nth(i).check()
        page.locator("#diff-button").click()
        page.locator("#diff li.change-modified", has_text="model/w.txt").wait_for()
        assert page.locator("#diff li.change-added", has_text="notes.txt").count() == 1
        assert page.locator("#diff li.change-removed").count() == 0
        direction = page.locator("#diff-direction").inner_text()
        assert direction.index("first") < direction.index("second"), direction
        for i in order:
            boxes.nth(i).uncheck()
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#diff-button").click()
    shot(page, "snapshots")
    first = httpx.get(f"{api}/volumes/data/snapshots").json()[-1]
    page.locator(f"button[data-restore='{first['id']}']").click()
    page.locator("#restore-form input[name=new_volume]").fill("data-v1")
    page.locator("#restore-form button").click()
    page.wait_for_url(re.compile(r".*#/volumes/data-v1$"))
    page.locator("#files tr[data-path='model']").wait_for()
    got = httpx.get(f"{api}/volumes/data-v1/files/content", params={"path": "model/w.txt"})
    assert got.content == b"version 1"
    # the volume list: size and files as of the last snapshot, how many, and when
    page.goto("/#/volumes")
    row = page.locator("#volumes tr[data-volume='data']")
    row.wait_for()
    assert row.locator("[data-field=snapshots]").inner_text() == "2"
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "34 B" and cells[2] == "2" and "second" in cells[4]
    assert page.locator("#volumes tr[data-volume='data-v1'] td").nth(4).inner_text() == "never"
    shot(page, "volumes")


VISUALS = '''
import kiln

@kiln.step
def evaluate() -> float:
    kiln.log_confusion_matrix("cm", [[8, 2], [1, 9]], labels=["cat", "dog"])
    kiln.log_roc("roc", fpr=[0, 0.1, 0.4, 1], tpr=[0, 0.6, 0.9, 1])
    kiln.log_table("errors", [{"id": 3, "label": "cat"}, {"id": 7, "label": "dog"}])
    kiln.log_html("report", "<h1 id=r>Report</h1><script>parent.document.title='pwned'</script>")
    kiln.log_markdown("notes", "## Findings\\n- **recall** up\\n- <b>not bold</b>")
    return 0.85

@kiln.pipeline(name="visuals")
def visuals():
    evaluate()
'''


def test_run_page_draws_logged_visuals(page, server):
    r = httpx.post(f"{server}/api/v1/pipelines",
                   files={"file": ("visuals.py", VISUALS.encode())}, data={"entry": "visuals"})
    assert r.status_code == 201, r.text
    run_id = httpx.post(f"{server}/api/v1/runs", json={"pipeline": "visuals"},
                        timeout=60).json()["id"]
    assert wait_status(server, run_id) == "succeeded"
    page.goto(f"/#/runs/{run_id}")
    cm = page.locator(".visual[data-kind=confusion_matrix] svg.confusion")
    cm.wait_for()
    assert cm.locator("rect").count() == 4
    assert "accuracy 0.85" in page.locator(".visual[data-kind=confusion_matrix]").inner_text()
    assert page.locator(".visual[data-kind=roc] svg.chart path.line").count() == 2
    assert page.locator(".visual[data-kind=table] tbody tr").count() == 2
    md = page.locator(".visual[data-kind=markdown] .markdown")
    assert md.locator("strong").inner_text() == "recall"
    assert md.locator("b").count() == 0  # HTML in Markdown is shown as text, not markup
    frame = page.locator(".visual[data-kind=html] iframe")
    assert frame.get_attribute("sandbox") == ""
    assert page.frame_locator(".visual[data-kind=html] iframe").locator("#r").inner_text() == \
        "Report"
    assert page.title() != "pwned"  # the report's script never ran
    shot(page, "run-visuals")


def test_recurring_runs_page(page, server, tmp_path):
    upload(server, tmp_path)
    page.goto("/#/schedules")
    form = page.locator("#new-schedule")
    form.locator("input[name=name]").fill("hourly-sums")
    form.locator("input[name=value]").fill("1h")
    form.locator("input[name=params]").fill('{"n": 3}')
    form.locator("button[type=submit]").click()
    row = page.locator("#schedules tr[data-name='hourly-sums']")
    row.wait_for()
    text = row.inner_text()
    assert "active" in text
    assert "every 1h" in text and "3600" not in text  # the interval as it was typed
    assert 'n=3' in text  # the parameters it runs with
    form = page.locator("#new-schedule")
    form.locator("input[name=name]").fill("broken")
    form.locator("input[name=value]").fill("often")
    form.locator("button[type=submit]").click()
    # refused beside the form, not in a banner
    page.locator("#schedule-errors .error", has_text="not an interval").wait_for()
    assert not page.locator("#flash:not(.ok)").is_visible()  # no error banner as well
    assert form.locator("label.field", has_text="Runs at once, at most").count() == 1
    shot(page, "schedules")
    row.locator("button.toggle").click()
    page.locator("#schedules tr[data-name='hourly-sums']", has_text="paused").wait_for()
    assert httpx.get(f"{server}/api/v1/schedules/hourly-sums").json()["paused"] is True


def test_notebook_servers_page(page, server):
    pytest.importorskip("jupyterlab")
    httpx.post(f"{server}/api/v1/volumes", json={"name": "lab"}).raise_for_status()
    page.goto("/#/notebooks")
    page.locator("#new-notebook select[name=volume]").select_option("lab")
    page.locator("#start-notebook").click()
    row = page.locator("#notebooks tr[data-name='lab']")
    row.wait_for(timeout=120_000)
    assert row.locator(".badge").inner_text() == "running"
    href = row.locator("a.button", has_text="Open").get_attribute("href")
    assert href.startswith("http://127.0.0.1:") and "token=" in href
    assert httpx.get(href, follow_redirects=True).status_code == 200
    shot(page, "notebooks")
    row.locator("button.danger", has_text="Stop").click()
    page.locator("#notebooks tr[data-name='lab'] .badge", has_text="stopped").wait_for()


def test_namespace_picker_switches_what_the_pages_show(page, server, tmp_path):
    team = {"namespace": "team-c"}
    r = httpx.post(f"{server}/api/v1/pipelines", params=team,
                   files={"file": ("sums.py", MODULE.encode())}, data={"entry": "sums"})
    assert r.status_code == 201, r.text
    run_id = httpx.post(f"{server}/api/v1/runs", params=team, json={"pipeline": "sums"},
                        timeout=60).json()["id"]
    page.goto("/#/runs")
    page.locator("#namespace option[value='team-c']").wait_for(state="attached")
    assert page.locator(f"a[href='#/runs/{run_id}']").count() == 0
    page.locator("#namespace").select_option("team-c")
    page.locator(f"a[href='#/runs/{run_id}']").first.wait_for()
    shot(page, "namespace")
    page.locator("#namespace").select_option("default")
    page.locator("h1", has_text="Runs").wait_for()
    page.wait_for_timeout(500)
    assert page.locator(f"a[href='#/runs/{run_id}']").count() == 0


def test_a_server_with_a_token_signs_the_dashboard_in_without_putting_it_in_addresses(
        browser, kiln_home, monkeypatch):
    from tests.conftest import kiln_server

    token = "dashboard-token-with-32-characters-or-more"
    monkeypatch.setenv("KILN_SERVER_TOKEN", token)
    with kiln_server("--no-scheduler") as base:
        context = browser.new_context(base_url=base)
        pg = context.new_page()
        urls: list[str] = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto("/#/volumes")
        form = pg.locator("#signin")
        form.wait_for(timeout=30_000)  # one form for every call that needed the token
        assert pg.locator("#signin").count() == 1
        form.locator("input[name=token]").fill("a-wrong-token")
        form.get_by_role("button", name="Sign in").click()
        pg.locator("#signin-error").get_by_text("the token is wrong").wait_for()
        form.locator("input[name=token]").fill(token)
        form.get_by_role("button", name="Sign in").click()
        pg.get_by_role("heading", name="Volumes").wait_for(timeout=30_000)
        pg.goto("/#/")  # later pages use the session: asked once
        pg.wait_for_load_state("networkidle")
        assert pg.locator("#signin").count() == 0
        assert urls and not any(token in u for u in urls)
        stored = pg.evaluate("JSON.stringify(Object.assign({}, localStorage))")
        assert token not in stored
        cookies = context.cookies()
        assert [c["httpOnly"] for c in cookies if c["name"] == "kiln_session"] == [True]
        context.close()


def test_clone_with_changes_starts_a_run_and_shows_a_refused_change_beside_the_form(
        page, server, tmp_path):
    upload(server, tmp_path)
    first = httpx.post(f"{server}/api/v1/runs", json={"pipeline": "sums", "params": {"n": 3}},
                       timeout=60).json()["id"]
    assert wait_status(server, first) == "succeeded"
    page.goto(f"/#/runs/{first}")
    page.locator("#clone").click()
    form = page.locator("#clone-form form")
    form.locator("input[name=n]").fill("not a number")
    form.locator("button[type=submit]").click()
    error = page.locator("#clone-errors .error")
    error.wait_for()
    assert "n" in error.inner_text()
    assert page.url.endswith(f"#/runs/{first}")  # still here, with what was typed
    assert form.locator("input[name=n]").input_value() == "not a number"
    shot(page, "clone-refused")
    form.locator("input[name=n]").fill("6")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*#/runs/(?!" + first + r")[0-9a-f]+$"))
    clone = page.url.rsplit("/", 1)[1]
    assert wait_status(server, clone) == "succeeded"
    run = httpx.get(f"{server}/api/v1/runs/{clone}").json()
    assert run["params"]["n"] == 6 and run["parent_run_id"] == first


def test_runs_table_columns_sorting_and_pages(page, server, tmp_path):
    import kiln

    module = tmp_path / "sums.py"
    module.write_text(MODULE)
    order = [5, 12, 1, 8, 3, 10, 7, 2, 11, 4, 9, 6]  # newest first is not sorted by n
    for n in order:
        kiln.run(f"{module}:sums", {"n": n}, progress=False, name=f"sums-n{n}")
    page.goto("/#/runs?size=10")
    rows = page.locator("#runs-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 10 and page.locator("#next-page").count() == 1
    # names beside ids; the metric column shown by default
    assert page.locator("#runs-table tbody tr").first.locator("td").nth(2).inner_text() == "sums-n6"
    assert page.locator("#runs-table th[data-sort='metrics.total']").count() == 1
    # pick the parameter n as a column, then sort by it by clicking its header
    page.locator("#column-picker summary").click()
    page.locator("#column-picker input[data-column='params.n']").check()
    header = page.locator("#runs-table th[data-sort='params.n']")
    assert page.locator("#runs-table td[data-param=n]").all_inner_texts()[:3] == ["6", "9", "4"]

    def first_n(value: str) -> None:  # the table redrawn: its first row's n is `value`
        page.locator("#runs-table tbody tr").first.locator("td[data-param=n]").filter(
            has_text=re.compile(f"^{value}$")).wait_for()

    header.click()
    first_n("12")
    values = page.locator("#runs-table td[data-param=n]").all_inner_texts()
    assert values == [str(n) for n in range(12, 2, -1)]
    assert "sort=-params.n" in page.url
    page.locator("#runs-table th[data-sort='params.n']").click()
    first_n("1")
    assert page.locator("#runs-table td[data-param=n]").all_inner_texts()[:3] == ["1", "2", "3"]
    assert page.locator("#runs-table th[data-sort='params.n']").get_attribute("aria-sort") == \
        "ascending"
    # the next page goes on from there; the chosen column stays (kept in this browser)
    page.locator("#next-page").click()
    first_n("11")
    assert page.locator("#runs-table td[data-param=n]").all_inner_texts() == ["11", "12"]
    shot(page, "runs-columns")
    # a sort key no run has is said under the boxes; the page stays
    page.goto("/#/runs?sort=-metrics.nothing")
    page.locator("#filter-error", has_text="nothing").wait_for()
    assert page.locator("input[name=sort]").input_value() == "-metrics.nothing"


SLOW = '''
import time
import kiln

@kiln.step
def fit(epochs: int) -> float:
    loss = 1.0
    for epoch in range(epochs):
        loss *= 0.8
        kiln.log_metric("loss", loss, step=epoch)
        time.sleep(0.25)
    return loss

@kiln.pipeline(name="slow")
def slow(epochs: int = 40):
    fit(epochs)
'''


def test_a_running_step_shows_its_elapsed_time_and_metrics_as_they_come(page, server):
    r = httpx.post(f"{server}/api/v1/pipelines", files={"file": ("slow.py", SLOW.encode())},
                   data={"entry": "slow"})
    assert r.status_code == 201, r.text
    run = httpx.post(f"{server}/api/v1/runs", json={"pipeline": "slow"}).json()
    page.goto(f"/#/runs/{run['id']}")
    page.locator("#step .elapsed").wait_for()  # "running for 1.2 s", the step opened by itself
    # the metric and its chart appear while the step still runs
    page.locator(".card", has_text="Metrics").locator("td", has_text="loss").wait_for()
    page.locator("svg.chart[data-title=loss] path.line").wait_for()
    assert httpx.get(f"{server}/api/v1/runs/{run['id']}").json()["status"] == "running"
    shot(page, "run-in-progress")
    page.locator("h1 .badge[data-status=succeeded]").wait_for(timeout=60_000)
    assert page.locator("#step .elapsed").count() == 0
