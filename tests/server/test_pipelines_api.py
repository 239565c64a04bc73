"""Pipelines uploaded as versions, runs started, cancelled, cloned, retried, resumed, labelled,
archived and deleted over REST, against a real server process; bad input gets a 4xx."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import make_notebook

MODULE = '''
import time
import kiln

@kiln.step
def make(n: int) -> list:
    print(f"making {n}")
    return list(range(n))

@kiln.step
def total(xs: list, pause: float) -> int:
    time.sleep(pause)
    for i, x in enumerate(xs):
        kiln.log_metric("running", sum(xs[: i + 1]), step=i)
    kiln.log_metric("total", sum(xs))
    return sum(xs)

@kiln.pipeline(name="sums", experiment="api")
def sums(n: int = 4, pause: float = 0.0):
    total(make(n), pause)
'''


def wait(api: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


def upload(api: httpx.Client, filename: str, data: bytes, **form: str) -> httpx.Response:
    return api.post("/pipelines", files={"file": (filename, data)}, data=form)


def test_upload_versions_run_preview_clone_and_retry(api: httpx.Client):
    r = upload(api, "sums.py", MODULE.encode(), entry="sums", message="first")
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["pipeline"], v1["number"]) == ("sums", 1)
    assert [p["name"] for p in v1["parameters"]] == ["n", "pause"]
    assert {(e["from"], e["to"]) for e in v1["graph"]["edges"]} == {("make", "total")}
    v2 = upload(api, "sums.py", MODULE.replace("n: int = 4", "n: int = 5").encode(),
                entry="sums").json()
    assert v2["number"] == 2
    listed = api.get("/pipelines").json()
    assert [(p["name"], p["versions"], p["latest"]["number"]) for p in listed] == [("sums", 2, 2)]
    assert [v["number"] for v in api.get("/pipelines/sums").json()["all_versions"]] == [2, 1]

    r = api.post("/runs", json={"pipeline": "sums", "version": 1, "params": {"n": 6},
                                "labels": {"team": "vision"}})
    assert r.status_code == 201, r.text
    run = wait(api, r.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["metrics"]["total"] == 15 and run["labels"] == {"team": "vision"}
    assert run["params"] == {"n": 6, "pause": 0.0}
    assert run["pipeline_version_id"] == v1["id"]
    assert [n["id"] for n in run["graph"]["nodes"]] == ["make", "total"]
    series = api.get(f"/runs/{run['id']}/metrics").json()["metrics"]["running"]
    assert [p["value"] for p in series] == [0, 1, 3, 6, 10, 15]
    prev = api.get(f"/runs/{run['id']}/steps/make/outputs/output/preview").json()
    assert prev["kind"] == "text" and "5" in prev["text"]
    raw = api.get(f"/runs/{run['id']}/steps/total/outputs/output")
    assert raw.status_code == 200 and len(raw.content) > 0
    logs = api.get(f"/runs/{run['id']}/steps/make/logs").text
    assert "making 6" in logs

    latest = wait(api, api.post("/runs", json={"pipeline": "sums"}).json()["id"])
    assert latest["metrics"]["total"] == 10 and latest["pipeline_version_id"] == v2["id"]

    clone = api.post(f"/runs/{run['id']}/clone", json={"params": {"n": 3}})
    assert clone.status_code == 201, clone.text
    cloned = wait(api, clone.json()["id"])
    assert cloned["metrics"]["total"] == 3 and cloned["parent_run_id"] == run["id"]
    assert cloned["labels"] == {"team": "vision"}

    retried = wait(api, api.post(f"/runs/{run['id']}/retry").json()["id"])
    assert retried["status"] == "succeeded"
    assert {t["step"]: t["cached_from"] is not None for t in retried["tasks"]} == \
        {"make": True, "total": True}

    resumed = api.post(f"/runs/{run['id']}/resume",
                       json={"from_step": "total", "params": {"pause": 0.01}})
    assert resumed.status_code == 201, resumed.text
    res = wait(api, resumed.json()["id"])
    assert res["status"] == "succeeded" and res["parent_run_id"] == run["id"]

    found = api.get("/runs", params={"filter": "labels.team = vision"}).json()["runs"]
    assert {r["id"] for r in found} == {run["id"], cloned["id"], retried["id"]}
    exps = {e["name"]: e for e in api.get("/experiments").json()}
    assert exps["api"]["runs"] == 5 and exps["api"]["statuses"] == {"succeeded": 5}


def test_cancel_label_archive_delete(api: httpx.Client):
    upload(api, "sums.py", MODULE.encode(), entry="sums")
    r = api.post("/runs", json={"pipeline": "sums", "params": {"pause": 60}})
    run_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while api.get(f"/runs/{run_id}").json()["tasks"][1]["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert api.delete(f"/runs/{run_id}").status_code == 400  # still running
    c = api.post(f"/runs/{run_id}/cancel")
    assert c.status_code == 200, c.text
    assert wait(api, run_id, timeout=30)["status"] == "cancelled"
    assert api.post(f"/runs/{run_id}/cancel").status_code == 400  # already over

    p = api.patch(f"/runs/{run_id}", json={"labels": {"why": "too slow", "x": "1"}})
    assert p.json()["labels"] == {"why": "too slow", "x": "1"}
    p = api.patch(f"/runs/{run_id}", json={"labels": {"x": None}, "archived": True})
    assert p.json()["labels"] == {"why": "too slow"} and p.json()["archived"] is True
    assert run_id not in {r["id"] for r in api.get("/runs").json()["runs"]}
    assert run_id in {r["id"] for r in api.get("/runs", params={"archived": True}).json()["runs"]}
    assert api.delete(f"/runs/{run_id}").json() == {"deleted": run_id}
    assert api.get(f"/runs/{run_id}").status_code == 404


def test_bad_uploads_and_bad_runs_get_clear_4xx(api: httpx.Client, tmp_path):
    def err(r: httpx.Response, code: int) -> dict[str, Any]:
        assert r.status_code == code, r.text
        return r.json()["error"]

    e = err(upload(api, "notes.txt", b"hello"), 400)
    assert e["where"] == "file" and ".ipynb" in e["hint"]
    # a path in the file name is dropped: the upload lands in its own folder under KILN_HOME
    assert upload(api, "../evil.py", MODULE.encode(), entry="sums").json()["filename"] == \
        "evil.py"
    e = err(upload(api, "data.ipynb", MODULE.encode(), entry="sums"), 400)
    assert e["where"] == "entry"
    e = err(upload(api, "broken.py", b"def f(:\n"), 400)
    assert e["where"].startswith("broken.py") and "kiln-home" not in e["message"]
    bad_nb = make_notebook(tmp_path / "nb.ipynb", [(["step:a"], "x = 1"), (["step:b"], "y = (")])
    e = err(upload(api, "nb.ipynb", bad_nb.read_bytes()), 400)
    assert e["where"].startswith("nb.ipynb") and "cell 2" in e["where"]
    e = err(upload(api, "sums.py", MODULE.encode(), entry="sums", name="no spaces please"), 400)
    assert e["where"] == "name"
    assert err(api.post("/pipelines", data={"name": "x"}), 422)["where"].endswith("file")

    upload(api, "sums.py", MODULE.encode(), entry="sums")
    e = err(api.post("/runs", json={"pipeline": "sumz"}), 404)
    assert "sums" in e["hint"]
    e = err(api.post("/runs", json={"pipeline": "sums", "version": 9}), 404)
    assert "1" in e["hint"]
    e = err(api.post("/runs", json={"pipeline": "sums", "params": {"n": "many"}}), 400)
    assert "n" in e["message"]
    e = err(api.post("/runs", json={"pipeline": "sums", "params": {"m": 1}}), 400)
    assert "'m'" in e["message"] and "n, pause" in e["hint"]
    e = err(api.post("/runs", json={"pipeline": "sums", "labels": {"bad key!": "v"}}), 400)
    assert e["where"] == "labels"
    err(api.post("/runs", json={"params": {}}), 422)
    err(api.post("/runs/nope/cancel"), 404)
    err(api.post("/runs/nope/clone", json={}), 404)
    err(api.patch("/runs/nope", json={"archived": True}), 404)
    err(api.get("/runs", params={"filter": "labels.team > 3"}), 400)
    err(api.get("/pipelines/nope"), 404)


def test_eight_runs_writing_while_the_api_is_read(api: httpx.Client):
    """Eight background runs record steps, metrics and outputs at once while the run list and
    each run are read in a loop: every request answers, none with a lock error."""
    import threading

    upload(api, "sums.py", MODULE.encode(), entry="sums")
    ids: list[str] = []
    failures: list[str] = []

    def start(n: int) -> None:
        r = api.post("/runs", json={"pipeline": "sums", "params": {"n": n, "pause": 0.2}})
        (ids.append(r.json()["id"]) if r.status_code == 201 else failures.append(r.text))

    threads = [threading.Thread(target=start, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    reads = 0
    while any(t.is_alive() for t in threads) or not ids or any(
            api.get(f"/runs/{i}").json()["status"] == "running" for i in list(ids)):
        for path in ("/runs", *(f"/runs/{i}" for i in list(ids)[:3])):
            r = api.get(path)
            reads += 1
            if r.status_code != 200:
                failures.append(r.text)
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    runs = [api.get(f"/runs/{i}").json() for i in ids]
    assert len(runs) == 8 and all(r["status"] == "succeeded" for r in runs), runs
    assert sorted(r["metrics"]["total"] for r in runs) == sorted(n * (n - 1) // 2
                                                                  for n in range(8))
    assert reads > 8
