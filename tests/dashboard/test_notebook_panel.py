"""kilnflow's JupyterLab panel end to end, in Debian's chromium against a real JupyterLab
started by `kiln notebook start` (the prebuilt extension shipped in the package): turn
kilnflow on, tag cells from the panel, see the graph and an undefined name's error on its
cell, run the pipeline and watch its steps succeed, open the run in the dashboard, and save
the notebook with the tags and metadata Kale writes for the same choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import kiln_server, make_notebook, run_cli
from tests.dashboard.conftest import shot


def cell(page, i: int):  # noqa: ANN001, ANN201 - Playwright's types load lazily
    return page.locator(".jp-Notebook .jp-Cell").nth(i)


def open_panel(page) -> None:  # noqa: ANN001
    """Click the kilnflow tab, answering JupyterLab's kernel dialog ("No Kernel": the panel
    needs none) whenever it comes up first."""
    tab = page.locator('[data-id="kilnflow-panel"]')
    tab.wait_for()
    for _ in range(30):
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            no = dialog.get_by_role("button", name="No Kernel")
            if no.count():
                no.first.click()
            else:
                page.keyboard.press("Escape")
            page.wait_for_timeout(300)
            continue
        try:
            tab.click(timeout=3000)
            return
        except Exception:  # noqa: BLE001 - a dialog opened meanwhile: answer it, try again
            page.wait_for_timeout(300)
    tab.click()


def choose(page, i: int, kind: str, name: str = "", deps: tuple[str, ...] = ()) -> None:  # noqa: ANN001
    cell(page, i).locator(".jp-InputPrompt").click()
    panel = page.locator("#kilnflow-panel")
    panel.locator("#kiln-kind").select_option(kind)
    if name:
        panel.locator("#kiln-step-name").fill(name)
        panel.locator("#kiln-step-name").press("Enter")
        panel.locator("#kiln-step-name").blur()
    for d in deps:
        panel.locator(f'#kiln-deps input[value="{d}"]').check()


def test_tag_cells_see_the_graph_and_errors_run_and_save(browser, kiln_home: Path):  # noqa: ANN001
    pytest.importorskip("jupyterlab")
    with kiln_server("--no-scheduler") as dash:
        r = run_cli("notebook", "start", "--name", "panel",
                    env={"KILN_DASHBOARD_URL": dash})
        assert r.returncode == 0, r.stderr
        try:
            info = json.loads(run_cli("notebook", "ls", "--json").stdout)[0]
            root = Path(info["root"])
            nb = json.loads(make_notebook(root / "pipeline.ipynb", [
                (None, "xs = [1, 2, 3]"),
                (None, "ys = [x * 2 for x in xs]"),
                (None, "t = sum(ys)\nprint(t)"),
            ]).read_text())
            nb["metadata"] = {}  # a plain notebook: kilnflow (Kale) not turned on yet
            (root / "pipeline.ipynb").write_text(json.dumps(nb))
            base, token = info["open_url"].split("/lab?token=")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/pipeline.ipynb?token={token}")
            cell(page, 2).wait_for()
            open_panel(page)
            panel = page.locator("#kilnflow-panel")
            panel.locator("#kiln-enable").check()
            choose(page, 0, "step", "load")
            choose(page, 2, "step", "total", deps=("load",))
            # the graph: two steps, one edge; the bars: cell 1 continues load
            panel.locator('#kiln-graph g[data-step="total"]').wait_for()
            assert panel.locator("#kiln-graph g").count() == 2
            assert cell(page, 1).get_attribute("data-kiln-step") == "load"
            assert cell(page, 2).get_attribute("data-kiln-step") == "total"
            # a bad step name is refused in place
            choose(page, 0, "step", "Load")
            panel.locator("#kiln-name-error").get_by_text("not a step name").wait_for()
            choose(page, 0, "step", "load")
            # an undefined name: the analysis' error appears on its cell
            editor = cell(page, 2).locator(".cm-content")
            editor.click()
            page.keyboard.press("Control+End")
            page.keyboard.type("\nu = not_defined_anywhere")
            cell(page, 2).locator(".kiln-cell-error").get_by_text("not_defined_anywhere").wait_for()
            shot(page, "panel-error")
            page.keyboard.press("Control+z")
            cell(page, 2).locator(".kiln-cell-error").wait_for(state="detached")
            # run it: each step's state reaches succeeded
            panel.locator("#kiln-run-button").click()
            panel.locator('[data-run-status="succeeded"]').wait_for(timeout=120_000)
            steps = panel.locator("#kiln-run-status li")
            assert {steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-status")
                    for i in range(steps.count())} == {"load": "succeeded", "total": "succeeded"}
            # a step's log on click; serving refuses a run that stored no model, in place
            panel.locator('#kiln-run-status li[data-step="total"]').click()
            panel.locator("#kiln-log").get_by_text("12").wait_for()
            panel.locator("#kiln-serve-button").click()
            panel.locator("#kiln-serve-status").get_by_text("stored no model").wait_for()
            shot(page, "panel")
            href = panel.locator("#kiln-dashboard-link").get_attribute("href")
            assert href.startswith(dash + "/#/runs/")
            # a step's limits, as Kale's limit: tags; a bad one refused in place
            cell(page, 2).locator(".jp-InputPrompt").click()
            panel.locator("#kiln-limits").fill("gpu=1")
            panel.locator("#kiln-limits").press("Enter")
            panel.locator("#kiln-limits").blur()
            panel.locator("#kiln-name-error").get_by_text("not RESOURCE:AMOUNT").wait_for()
            panel.locator("#kiln-limits").fill("nvidia.com/gpu:1")
            panel.locator("#kiln-limits").press("Enter")
            panel.locator("#kiln-limits").blur()
            page.wait_for_timeout(300)
            # submitting to a Kubeflow that is not there: said in the panel
            panel.locator("#kiln-kfp-host").fill("http://127.0.0.1:9")
            panel.locator("#kiln-submit-button").click()
            panel.locator("#kiln-more-status").get_by_text("cannot reach Kubeflow Pipelines").wait_for()
            # save: the notebook carries exactly Kale's tags and metadata
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)
            saved = json.loads((root / "pipeline.ipynb").read_text())
            assert [c["metadata"].get("tags") for c in saved["cells"]] == [
                ["step:load"], None, ["step:total", "prev:load", "limit:nvidia.com/gpu:1"]]
            meta = saved["metadata"]["kubeflow_notebook"]
            assert meta["pipeline_name"] == "pipeline" and meta["volumes"] == []
            assert {"pipeline_description", "experiment_name", "docker_image", "autosnapshot",
                    "katib_run"} <= set(meta)
            # the run, in the dashboard
            page.goto(href)
            page.locator("h1").filter(has_text="Run").first.wait_for()
            assert not errors, errors
        finally:
            run_cli("notebook", "stop", "panel")


def test_a_study_started_from_the_panel_writes_kale_s_katib_metadata(browser, kiln_home: Path):  # noqa: ANN001
    pytest.importorskip("jupyterlab")
    r = run_cli("notebook", "start", "--name", "tuning")
    assert r.returncode == 0, r.stderr
    try:
        info = json.loads(run_cli("notebook", "ls", "--json").stdout)[0]
        root = Path(info["root"])
        make_notebook(root / "tune.ipynb", [
            (["pipeline-parameters"], "N = 3"),
            (["step:load"], "xs = list(range(N))"),
            (["step:total", "prev:load"], "t = sum(xs)"),
            (["pipeline-metrics"], "print(t)"),
        ], metadata={"pipeline_name": "tune-me", "pipeline_description": "",
                     "experiment_name": "", "docker_image": "", "volumes": [],
                     "autosnapshot": False, "katib_run": False})
        base, token = info["open_url"].split("/lab?token=")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{base}/lab/tree/tune.ipynb?token={token}")
        cell(page, 3).wait_for()
        open_panel(page)
        panel = page.locator("#kilnflow-panel")
        panel.locator('#kiln-graph g[data-step="total"]').wait_for()
        panel.locator("#kiln-objective").fill("t")
        panel.locator("#kiln-algorithm").select_option("grid")
        panel.locator("#kiln-trials").fill("2")
        panel.locator("#kiln-space").fill("N: 4..2")
        panel.locator("#kiln-tune-button").click()
        panel.locator("#kiln-tune-error").get_by_text("below the maximum").wait_for()
        panel.locator("#kiln-space").fill("N: 2, 4")
        panel.locator("#kiln-tune-button").click()
        panel.locator('[data-study-status="succeeded"]').wait_for(timeout=180_000)
        assert panel.locator("#kiln-study li").count() == 2
        assert "best 6" in panel.locator("#kiln-study").inner_text()  # sum(range(4))
        shot(page, "panel-study")
        saved = json.loads((root / "tune.ipynb").read_text())["metadata"]["kubeflow_notebook"]
        assert saved["katib_run"] is True and saved["pipeline_name"] == "tune-me"
        assert saved["katib_metadata"] == {  # as Kale's panel writes it: space values as strings
            "algorithm": {"algorithmName": "grid", "algorithmSettings": []},
            "maxFailedTrialCount": 3, "maxTrialCount": 2, "parallelTrialCount": 1,
            "objective": {"type": "maximize", "objectiveMetricName": "t",
                          "additionalMetricNames": []},
            "parameters": [{"name": "N", "parameterType": "discrete",
                            "feasibleSpace": {"list": ["2", "4"]}}]}
    finally:
        run_cli("notebook", "stop", "tuning")
