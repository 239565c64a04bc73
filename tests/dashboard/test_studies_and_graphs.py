"""The dashboard's study pages (list, live trials table, objective and parallel-coordinates
charts, best trial with its run and model), graphs that fit (a 50-step fan-out and a 20-step
chain with every node reachable and clickable), the run page opening the failed step, and
errors shown where they happen. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

import kiln
from tests.dashboard.conftest import shot

pytestmark = pytest.mark.browser

QUAD = '''
import time
import kiln
from sklearn.linear_model import LogisticRegression

@kiln.step
def fit(x: float, pause: float) -> LogisticRegression:
    loss = (x - 0.3) ** 2
    for epoch in range(5):
        kiln.report(loss * (5 - epoch), step=epoch)
        time.sleep(pause)
    kiln.log_metric("loss", loss)
    return LogisticRegression().fit([[0.0], [1.0]], [0, 1])

@kiln.pipeline(name="quad")
def quad(x: float = 0.0, pause: float = 0.0):
    fit(x, pause)
'''

STUDY = '''
import sys
import kiln
space = {"x": {"parameterType": "discrete",
               "feasibleSpace": {"list": [0.3, 0.35, 0.25, 0.9, 1.0, 0.95]}}}
kiln.tune(sys.argv[1], space=space, objective="loss", direction="minimize", trials=6,
          parallel=1, algorithm="grid", early_stopping="medianstop",
          params={"pause": 0.3}, name="quad-grid", progress=False)
'''


def api(server: str, path: str) -> dict:
    r = httpx.get(f"{server}/api/v1{path}")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_study_page_follows_the_study_live_and_draws_its_trials(page, server, tmp_path):
    module = tmp_path / "quad.py"
    module.write_text(QUAD)
    proc = subprocess.Popen([sys.executable, "-c", STUDY, f"{module}:quad"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not api(server, "/studies")["studies"] and time.monotonic() < deadline:
            time.sleep(0.2)
        page.goto("/#/studies")
        page.locator("tr[data-study='quad-grid'] a").click()
        page.wait_for_url("**/#/studies/quad-grid")
        # open while it runs: the page shows it running and fills in trials as they end
        assert page.locator("h1 .badge").get_attribute("data-status") == "running"
        shot(page, "study-running")
        page.locator("h1 .badge[data-status=succeeded]").wait_for(timeout=120_000)
    finally:
        out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    study = api(server, "/studies/quad-grid")
    assert study["budget"] == 6 and study["metric"] == "loss" and study["direction"] == "minimize"
    trials = study["trials"]
    assert len(trials) == 6
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned, [t["state"] for t in trials]
    assert all(t["last_reported"] == t["intermediate"][-1][1] for t in pruned)
    best = study["best"]
    assert best["params"] == {"x": 0.3} and best["models"] == ["fit/output"]
    # the trials table: one row per trial, the best highlighted, pruned ones with their last value
    rows = page.locator("#trials tbody tr")
    assert rows.count() == 6
    assert page.locator("#trials tr.best").get_attribute("data-trial") == str(best["number"])
    for t in pruned:
        row = page.locator(f"#trials tr[data-trial='{t['number']}']")
        assert row.locator("[data-state=pruned]").count() == 1
        assert "(last reported)" in row.inner_text()
    # objective per trial: a dot for every trial with a value (pruned at its last report),
    # the best one marked, and the running best drawn
    dots = page.locator("#objective-chart circle")
    assert dots.count() == 6
    assert page.locator("#objective-chart circle.best-dot").get_attribute("data-trial") == \
        str(best["number"])
    assert page.locator("#objective-chart path.best-line").count() == 1
    # parallel coordinates: the parameter axis and the objective axis, a line per trial
    assert page.locator("#parallel-chart g.pc-axis").count() == 2
    assert page.locator("#parallel-chart path.pc-line").count() == 6
    assert "kiln serve" in page.locator("#best-trial code").inner_text()
    shot(page, "study")
    # the best trial's run, and back to the study from it
    page.locator("#open-best-run").click()
    page.wait_for_url(f"**/#/runs/{best['run']}")
    page.locator("#study-link").click()
    page.wait_for_url("**/#/studies/quad-grid")
    page.locator("#trials").wait_for()


def pipeline_module(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"{path}:{name}"


def node_box(page, step: str) -> dict:  # noqa: ANN001
    node = page.locator(f"svg.dag g.node[data-step='{step}']")
    node.scroll_into_view_if_needed()
    box = node.bounding_box()
    assert box is not None
    return box


def test_a_50_step_fan_out_and_a_20_step_chain_fit_and_every_node_can_be_clicked(page, tmp_path):
    branches = "".join(f"@kiln.step\ndef branch_{i:02d}(x: int) -> int:\n    return x + {i}\n\n"
                       for i in range(49))
    calls = "".join(f"    branch_{i:02d}(s)\n" for i in range(49))
    fan = kiln.run(pipeline_module(tmp_path, "fan", (
        "import kiln\n\n@kiln.step\ndef source() -> int:\n    return 1\n\n" + branches +
        '@kiln.pipeline(name="fan")\ndef fan():\n    s = source()\n' + calls)), progress=False)
    chain = kiln.run(pipeline_module(tmp_path, "chain", """
        import kiln

        @kiln.step
        def inc(x: int) -> int:
            return x + 1

        @kiln.pipeline(name="chain")
        def chain():
            x = inc(0)
            for _ in range(19):
                x = inc(x)
        """), progress=False)
    for run, n in ((fan, 50), (chain, 20)):
        page.goto(f"/#/runs/{run.id}")
        # this run's page drawn whole (going from one run to the next only changes the hash)
        page.locator("h1 .run-id", has_text=run.id).wait_for()
        page.locator("h1 .badge[data-status=succeeded]").wait_for()
        page.locator(f"svg.dag g.node >> nth={n - 1}").wait_for()
        nodes = page.locator("svg.dag g.node")
        assert nodes.count() == n
        card = page.locator("#dag").bounding_box()
        # the drawing never overflows its card: wide graphs scroll inside it
        scroller = page.locator(".dag-scroll").bounding_box()
        assert scroller["x"] + scroller["width"] <= card["x"] + card["width"] + 1
        steps = [nodes.nth(i).get_attribute("data-step") for i in range(n)]
        for step in steps:  # every node: reachable, readable, and opens its step
            box = node_box(page, step)
            assert box["width"] > 60  # readable, not shrunk to dots
            page.locator(f"svg.dag g.node[data-step='{step}']").click()
            # exactly this step: "Step inc" is also the start of "Step inc_2"
            page.locator("#step h2").filter(
                has_text=re.compile(rf"^Step {re.escape(step)}\s")).wait_for()
        shot(page, f"graph-{n}-steps")
    # a chain is drawn top to bottom (narrow), a fan-out left to right
    page.goto(f"/#/runs/{chain.id}")
    assert page.locator("svg.dag").get_attribute("data-vertical") == "1"
    # zoom buttons change the drawing's size and Fit brings it back
    before = page.locator("svg.dag").get_attribute("width")
    page.get_by_role("button", name="zoom in").click()
    assert int(page.locator("svg.dag").get_attribute("width")) > int(before)
    page.get_by_role("button", name="fit to width").click()
    assert page.locator("svg.dag").get_attribute("width") == before


def test_the_run_page_opens_the_failed_step_and_the_error_links_to_it(page, tmp_path):
    run = kiln.run(pipeline_module(tmp_path, "breaks", '''
        import kiln

        @kiln.step
        def first() -> int:
            return 1

        @kiln.step
        def second(x: int) -> int:
            raise RuntimeError("the data has no rows")

        @kiln.pipeline(name="breaks")
        def breaks():
            second(first())
        '''), progress=False)
    assert run.status == "failed"
    page.goto(f"/#/runs/{run.id}")
    page.locator("#step h2").filter(has_text="Step second").wait_for()
    assert "the data has no rows" in page.locator("#step").inner_text()
    page.locator("svg.dag g.node[data-step='first']").click()
    page.locator("#step h2").filter(has_text="Step first").wait_for()
    page.locator("#failed-step").click()
    page.locator("#step h2").filter(has_text="Step second").wait_for()
    shot(page, "run-failed")


def test_a_bad_filter_is_shown_beside_the_box_and_messages_clear_on_navigation(page, server):
    page.goto("/#/runs?filter=" + "metrics.accuracy >>> 3")
    error = page.locator("#filter-error")
    error.wait_for()
    assert page.locator("h1").inner_text() == "Runs"  # the page stays
    assert page.locator("input[name=filter]").input_value() == "metrics.accuracy >>> 3"
    assert "kiln " not in error.inner_text()  # no terminal commands on a web page
    assert page.locator("#flash").is_hidden()
    shot(page, "runs-bad-filter")
    # an unknown run: said once, on the page, and gone when the user moves on
    page.goto("/#/runs/ffffffffffff")
    page.locator("main .error").wait_for()
    assert page.locator("#flash").is_hidden()
    page.evaluate("document.getElementById('flash').hidden = false")
    page.goto("/#/volumes")
    page.locator("h1").filter(has_text="Volumes").wait_for()
    assert page.locator("#flash").is_hidden()


def test_serve_the_best_model_from_the_study_page_and_watch_its_numbers(page, server, tmp_path):
    module = tmp_path / "quad.py"
    module.write_text(QUAD)
    subprocess.run([sys.executable, "-c", STUDY.replace('"pause": 0.3', '"pause": 0.0'),
                    f"{module}:quad"], cwd=tmp_path, check=True, capture_output=True)
    page.goto("/#/studies/quad-grid")
    try:
        serve_and_watch(page, server)
    finally:  # a failed check must not leave the model server running
        httpx.post(f"{server}/api/v1/services/quad-grid-best/stop", timeout=30)


def serve_and_watch(page, server: str) -> None:  # noqa: ANN001
    page.locator("#best-trial button[data-serve='fit/output']").click()
    page.wait_for_url("**/#/services", timeout=120_000)
    card = page.locator(".service[data-service='quad-grid-best']")
    card.locator(".badge[data-status=running]").wait_for()
    svc = api(server, "/services/quad-grid-best")
    best_run = api(server, "/studies/quad-grid")["best"]["run"]
    assert svc["models"][0]["model_run"] == best_run
    assert card.locator(f"a[href='#/runs/{best_run}']").count() == 1
    url = f"{svc['url']}/v2/models/quad-grid-best/infer"
    body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.7]}]}
    for _ in range(20):
        assert httpx.post(url, json=body).status_code == 200
    assert httpx.post(url, json={"inputs": "not a list"}).status_code == 400
    # the page's numbers come from the server's own /metrics, and move while it is open
    card.locator("td[data-field=requests]").filter(has_text="21").wait_for(timeout=15_000)
    assert "%" in card.locator("td[data-field=errors]").inner_text()
    assert card.locator("td[data-field=rate]").inner_text().endswith("/s")
    card.locator("button[data-action=logs]").click()
    card.locator(".service-log").filter(has_text="infer 400").wait_for()
    log = card.locator(".service-log").inner_text()
    assert "POST /v2/models/quad-grid-best/infer 200" in log  # every request, as it came
    assert "POST /v2/models/quad-grid-best/infer 400" in log
    assert page.locator("#notebook-servers").inner_text().count("None running") == 1
    shot(page, "services")
    card.locator("button[data-action=stop]").click()
    card.locator(".badge[data-status=stopped]").wait_for(timeout=30_000)


def test_the_services_api_serves_only_run_outputs_and_says_what_is_wrong(server):
    for model, status, words in (("/etc/passwd", 400, "RUN/STEP/OUTPUT"),
                                 ("predictor.py:Model", 400, "RUN/STEP/OUTPUT"),
                                 ("ffffffff/train/model", 404, "ffffffff")):
        r = httpx.post(f"{server}/api/v1/services", json={"model": model})
        assert r.status_code == status, r.text
        assert words in r.json()["error"]["message"]
    r = httpx.get(f"{server}/api/v1/services/nothing-here")
    assert r.status_code == 404
    assert httpx.get(f"{server}/api/v1/services").json() == {"services": []}


def test_lineage_page_keeps_upstream_and_downstream_apart(page, tmp_path):
    target = pipeline_module(tmp_path, "three", '''
        import kiln

        @kiln.step
        def first() -> list:
            return [1, 2, 3]

        @kiln.step
        def middle(xs: list) -> list:
            return [x * 2 for x in xs]

        @kiln.step
        def last(xs: list) -> int:
            return sum(xs)

        @kiln.pipeline(name="three")
        def three():
            last(middle(first()))
        ''')
    run = kiln.run(target, progress=False)
    again = kiln.run(target, progress=False)  # every step from the cache: the same outputs
    assert set(again.steps.values()) == {"cached"}
    page.goto(f"/#/runs/{run.id}?step=middle")
    page.locator("a[data-lineage=output]").click()
    page.wait_for_url(f"**/#/lineage/{run.id}/middle/output")
    up, down = page.locator("#upstream"), page.locator("#downstream")
    up.locator("svg.dag").wait_for()
    assert up.locator("g.node.task", has_text="first").count() == 1
    assert up.locator("g.node.task", has_text="last").count() == 0  # directions kept apart
    # the second run's cached copies (first, middle, last) are left out, and counted
    assert down.locator("g.node.task", has_text="last").count() == 1
    assert "3 cached copies" in page.locator("#lineage-summary").inner_text()
    assert down.locator("g.node.task", has_text="first").count() == 0
    # the cached run's copy of each output is the same content: one node, not two
    digests = [n.get_attribute("data-step") for n in down.locator("g.node.artifact").all()]
    assert len(digests) == len(set(digests))
    assert down.locator("g.node[data-status=root]").count() == 1
    shot(page, "lineage")
    down.locator("g.node.task", has_text="last").first.click()
    page.wait_for_url(re.compile(r".*#/runs/[0-9a-f]+\?step=last$"))
    page.locator("#step h2").filter(has_text="Step last").wait_for()
