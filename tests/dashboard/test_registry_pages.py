"""The registry and the model registry in the dashboard (headless chromium): publish a
volume from the form, open the bucket, subscribe a volume to it, sync and pause from the
subscriptions table; a refused publish shown where it happened; registered models with
their versions' lineage, an alias pointed from the page, and its history."""

from __future__ import annotations

import httpx

from tests.dashboard.conftest import shot
from tests.dashboard.test_dashboard import upload, wait_status


def test_publish_open_subscribe_and_sync(page, server):  # noqa: ANN001
    api = f"{server}/api/v1"
    assert httpx.post(f"{api}/volumes", json={"name": "features"}).status_code == 201
    httpx.put(f"{api}/volumes/features/files/content", params={"path": "a.csv"},
              files={"file": ("a.csv", b"x,y\n1,2\n")})
    page.goto("/#/registry")
    page.get_by_role("heading", name="Registry").wait_for()
    form = page.locator("#publish")
    form.locator("input[name=source]").fill("features")
    form.locator("input[name=bucket]").fill("local/features")
    form.locator("input[name=message]").fill("first cut")
    form.locator("input[name=tags]").fill("march, clean")
    form.get_by_role("button", name="Publish").click()
    page.get_by_role("heading", name="Bucket local/features").wait_for()
    assert "first cut" in page.locator('#versions tr[data-version="1"]').inner_text()
    # subscribe a volume of this namespace to it
    sub = page.locator("#subscribe")
    sub.locator("input[name=to]").fill("features-copy")
    sub.get_by_role("button", name="Subscribe").click()
    page.locator('#subscriptions tr[data-subscription="1"]').wait_for()
    assert "v1" in page.locator('#subscriptions tr[data-subscription="1"]').inner_text()
    files = httpx.get(f"{api}/volumes/features-copy/files").json()
    assert [f["path"] for f in files] == ["a.csv"]
    # a new version, synced from the table
    httpx.put(f"{api}/volumes/features/files/content", params={"path": "b.csv"},
              files={"file": ("b.csv", b"3,4\n")})
    r = httpx.post(f"{api}/registry/buckets/local/features/versions", json={"source": "features"})
    assert r.status_code == 201
    row = page.locator('#subscriptions tr[data-subscription="1"]')
    row.get_by_role("button", name="Sync now").click()
    page.locator("#flash").get_by_text("local/features: v2").wait_for()
    page.locator('#subscriptions tr[data-subscription="1"] td', has_text="v2").wait_for()
    page.locator('#subscriptions tr[data-subscription="1"]').get_by_role(
        "button", name="Pause").click()
    page.locator('#subscriptions tr[data-subscription="1"] td', has_text="paused").wait_for()
    # search, and a refused publish shown, the form kept
    page.locator("#search-buckets input[name=q]").fill("nothing-like-it")
    page.locator("#search-buckets").get_by_role("button", name="Search").click()
    page.get_by_text("No bucket you may read matches.").wait_for()
    page.goto("/#/registry")
    page.locator('#buckets tr[data-bucket="local/features"]').wait_for()
    shot(page, "registry")
    form = page.locator("#publish")
    form.locator("input[name=source]").fill("features")
    form.locator("input[name=bucket]").fill("local/bad..name")
    form.get_by_role("button", name="Publish").click()
    page.locator("#flash").get_by_text("not a bucket name").wait_for()
    assert form.locator("input[name=bucket]").input_value() == "local/bad..name"


def test_registered_models_versions_aliases_and_history(page, server, tmp_path):  # noqa: ANN001
    api = f"{server}/api/v1"
    upload(server, tmp_path)
    runs = []
    for n in (3, 4):
        run = httpx.post(f"{api}/runs", json={"pipeline": "sums", "params": {"n": n}},
                         timeout=60).json()["id"]
        assert wait_status(server, run) == "succeeded"
        runs.append(run)
    for run in runs:
        r = httpx.post(f"{api}/models", json={"name": "summer", "source": f"{run}/total"})
        assert r.status_code == 201, r.text
    page.goto("/#/models")
    page.locator('#models tr[data-model="summer"]').get_by_role("link").click()
    page.get_by_role("heading", name="Model summer").wait_for()
    v1 = page.locator('#model-versions tr[data-version="1"]')
    assert "n=3" in v1.inner_text()
    v1.get_by_role("link", name=f"{runs[0]}/total/output").wait_for()
    form = page.locator("#move-alias")
    form.locator("input[name=alias]").fill("production")
    form.locator("select[name=version]").select_option("2")
    form.get_by_role("button", name="Point alias").click()
    page.locator('[data-alias="production"]', has_text="production → v2").wait_for()
    page.locator("#alias-history").get_by_text("v2").wait_for()
    shot(page, "model")
    form = page.locator("#move-alias")
    form.locator("input[name=alias]").fill("2024")
    form.get_by_role("button", name="Point alias").click()
    page.locator("#flash").get_by_text("not an alias").wait_for()
    assert httpx.get(f"{api}/models/summer").json()["aliases"] == {"production": 2}
