"""The REST API over a real server process on loopback: runs, volumes, files, snapshots, and
JSON errors (4xx, never 5xx) for bad requests."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli

PIPE = '''
import kiln

@kiln.step
def square(x: int) -> int:
    print(f"squaring {x}")
    kiln.log_metric("value", x * x)
    return x * x

@kiln.pipeline(name="sq", experiment="api")
def sq(x: int = 3):
    square(x)
'''


def test_runs_list_filter_page_and_logs(api: httpx.Client, module):
    path = module(PIPE, name="sq")
    for x in range(5):
        assert run_cli("run", f"{path}:sq", "-p", f"x={x}", "--no-cache", "-q").returncode == 0
    page = api.get("/runs", params={"limit": 2}).json()
    assert len(page["runs"]) == 2 and page["next"]
    rest = api.get("/runs", params={"limit": 10, "before": page["next"]}).json()
    assert len(rest["runs"]) == 3 and rest["next"] is None
    ids = [r["id"] for r in page["runs"] + rest["runs"]]
    assert ids == sorted(ids, reverse=True)  # newest first, no overlap
    assert api.get("/runs", params={"experiment": "api", "status": "succeeded"}).json()["runs"]
    assert api.get("/runs", params={"pipeline": "other"}).json()["runs"] == []
    run = api.get(f"/runs/{ids[0]}").json()
    assert run["metrics"] == {"value": 16.0} and run["tasks"][0]["step"] == "square"
    log = api.get(f"/runs/{ids[0]}/steps/square/logs")
    assert log.status_code == 200 and "squaring 4" in log.text


@pytest.mark.parametrize("method,url,body,code,where", [
    ("get", "/runs/nope", None, 404, None),
    ("get", "/runs?status=weird", None, 422, "query.status"),
    ("get", "/runs?limit=0", None, 422, "query.limit"),
    ("get", "/volumes/nope/files", None, 404, None),
    ("post", "/volumes", {"name": "Bad Name"}, 400, "NAME"),
    ("post", "/volumes", {}, 422, "body.name"),
    ("get", "/snapshots/zzzz", None, 404, None),
])
def test_bad_requests_get_json_errors(api: httpx.Client, method, url, body, code, where):
    r = api.request(method.upper(), url, json=body)
    assert r.status_code == code
    err = r.json()["error"]
    assert err["message"]
    if where:
        assert err["where"] == where


def test_volume_files_and_snapshots_over_http(api: httpx.Client, tmp_path: Path):
    assert api.post("/volumes", json={"name": "web"}).status_code == 201
    up = api.put("/volumes/web/files/content", params={"path": "data/a.csv"},
                 files={"file": ("a.csv", b"x,y\n1,2\n")})
    assert up.status_code == 201 and up.json()["size"] == 8
    assert [e["path"] for e in api.get("/volumes/web/files", params={"path": "data"}).json()] \
        == ["data/a.csv"]
    assert api.get("/volumes/web/files/content", params={"path": "data/a.csv"}).content == \
        b"x,y\n1,2\n"
    r = api.get("/volumes/web/files/content", params={"path": "../../etc/passwd"})
    assert r.status_code == 400 and r.json()["error"]["where"] == "../../etc/passwd"
    first = api.post("/volumes/web/snapshots", json={"message": "one", "tags": ["v1"]})
    assert first.status_code == 201
    assert api.post("/volumes/web/files/move",
                    json={"src": "data/a.csv", "dst": "data/b.csv"}).json()["path"] == "data/b.csv"
    api.post("/volumes/web/snapshots", json={})
    d = api.get("/snapshots/web:v1/diff/web:latest").json()
    assert (d["added"], d["removed"]) == (1, 1)
    assert api.get("/snapshots/web:v1/content", params={"path": "data/a.csv", "offset": 4,
                                                         "length": 3}).content == b"1,2"
    assert len(api.get("/volumes/web/snapshots").json()) == 2
    r = api.post("/snapshots/web:v1/restore", json={"volume": "web"})
    assert r.status_code == 400 and "not empty" in r.json()["error"]["message"]
    assert api.post("/snapshots/web:v1/restore", json={"new_volume": "web-v1"}).status_code == 200
    files = api.get("/volumes/web-v1/files", params={"path": "data"}).json()
    assert [e["path"] for e in files] == ["data/a.csv"]
    assert api.delete("/volumes/web/files", params={"path": "data", "recursive": True}).status_code == 200
    assert api.get("/volumes/web/files").json() == []


def test_openapi_describes_the_api(api: httpx.Client):
    spec = httpx.get(f"http://127.0.0.1:{api.base_url.port}/openapi.json").json()
    assert {"/api/v1/runs", "/api/v1/volumes/{name}/files/content",
            "/api/v1/snapshots/{ref}/restore"} <= set(spec["paths"])


def test_the_server_takes_scheduled_snapshots(api: httpx.Client):
    api.post("/volumes", json={"name": "timed"})
    assert run_cli("volume", "schedule", "timed", "--every", "1s").returncode == 0
    deadline = time.monotonic() + 30
    while not api.get("/volumes/timed/snapshots").json():
        assert time.monotonic() < deadline, "no scheduled snapshot within 30 s"
        time.sleep(0.5)
    snap = api.get("/volumes/timed/snapshots").json()[0]
    assert snap["tags"] == ["scheduled"]


def test_search_compare_and_lineage_over_http(api: httpx.Client, module):
    path = module(PIPE, name="sq")
    for x in (2, 5, 7):
        assert run_cli("run", f"{path}:sq", "-p", f"x={x}", "-q").returncode == 0
    page = api.get("/runs", params={"filter": "metrics.value >= 25", "sort": "-metrics.value",
                                    "limit": 1}).json()
    assert [r["metrics"]["value"] for r in page["runs"]] == [49.0] and page["next"] == "1"
    rest = api.get("/runs", params={"filter": "metrics.value >= 25", "sort": "-metrics.value",
                                    "offset": page["next"]}).json()
    assert [r["metrics"]["value"] for r in rest["runs"]] == [25.0]
    r = api.get("/runs", params={"filter": "metrics.value ~ 3"})
    assert r.status_code == 400 and r.json()["error"]["where"] == "--filter"
    ids = [x["id"] for x in api.get("/runs").json()["runs"]]
    c = api.get("/runs/compare", params={"ids": ",".join(ids[:2])}).json()
    assert c["params"]["x"] == [7, 5] and "value" in c["differ"]
    g = api.get(f"/lineage/{ids[0]}/square/output").json()
    assert [t["step"] for t in g["tasks"]] == ["square"]


@pytest.mark.parametrize("path, words", [
    ("a\x00b", "NUL byte"),
    ("x" * 300, "longer than 255 bytes"),
    ("/".join(["y" * 200] * 30), "longer than 4096 bytes"),
])
def test_nul_bytes_and_over_long_paths_are_400s_with_the_json_error(api, path, words):
    assert api.post("/volumes", json={"name": "data"}).status_code == 201
    for method, url in (("GET", "/volumes/data/files"), ("GET", "/volumes/data/files/content"),
                        ("DELETE", "/volumes/data/files")):
        r = api.request(method, url, params={"path": path})
        assert r.status_code == 400, (method, url, r.text)
        assert words in r.json()["error"]["message"]
    r = api.put("/volumes/data/files/content", params={"path": path},
                files={"file": ("x", b"hi")})
    assert r.status_code == 400 and words in r.json()["error"]["message"]
    assert api.get("/health").status_code == 200


def test_hostile_run_queries_are_400s_and_the_server_stays_responsive(api):
    r = api.get("/runs", params={"filter": "a" + " " * 30000 + "b"})
    assert r.status_code == 400 and "at most" in r.json()["error"]["message"]
    r = api.get("/runs", params={"filter": "params.x = " + "[" * 1000})
    assert r.status_code == 400 and "nests" in r.json()["error"]["message"]
    r = api.get("/runs", params={"sort": "-created", "offset": 10 ** 30})
    assert r.status_code == 422 and r.json()["error"]["where"].endswith("offset")
    assert api.get("/health").status_code == 200


def test_a_running_server_reads_snapshots_other_processes_made_after_it_started(
        api: httpx.Client, tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "a.txt").write_text("first")
    assert run_cli("volume", "create", "shared", "--path", str(folder)).returncode == 0
    assert run_cli("snapshot", "create", "shared", "-t", "one").returncode == 0
    r = api.get("/snapshots/shared:one/content", params={"path": "a.txt"})
    assert r.status_code == 200 and r.text == "first"  # the server has read the store now
    for i in range(3):  # the CLI writes while the server stays up
        (folder / f"new{i}.bin").write_bytes(bytes([i]) * 300_000 + b"tail")
        assert run_cli("snapshot", "create", "shared", "-t", f"n{i}").returncode == 0
        got = api.get(f"/snapshots/shared:n{i}/content", params={"path": f"new{i}.bin"})
        assert got.status_code == 200, got.text
        assert got.content == bytes([i]) * 300_000 + b"tail"
