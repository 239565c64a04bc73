"""Namespaces keep runs, volumes and pipelines apart: through the CLI (--namespace), the
REST API (?namespace= or X-Kiln-Namespace), background runs started in one, and on
PostgreSQL a schema each (this file runs in the PostgreSQL suite too)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.conftest import kiln_server, run_cli

PIPE = '''
import kiln

@kiln.step
def make(n: int) -> list:
    return list(range(n))

@kiln.pipeline(name="ns-pipe")
def pipe(n: int = 3):
    make(n)
'''


def runs(*ns: str) -> list[str]:
    r = run_cli(*ns, "runs", "ls", "--json")
    assert r.returncode == 0, r.stderr
    return [x["id"] for x in json.loads(r.stdout)]


def test_cli_namespaces_keep_runs_and_volumes_apart(tmp_path: Path, kiln_home: Path):
    mod = tmp_path / "p.py"
    mod.write_text(PIPE)
    team = ("--namespace", "team-a")
    assert run_cli(*team, "run", f"{mod}:pipe", "-q").returncode == 0
    assert run_cli(*team, "volume", "create", "data").returncode == 0
    assert run_cli("volume", "create", "data").returncode == 0  # the same name, elsewhere
    [team_run] = runs(*team)
    assert runs() == []
    assert team_run not in run_cli("runs", "ls").stdout
    r = run_cli("runs", "show", team_run)
    assert r.returncode != 0 and "no run" in r.stderr
    vols = json.loads(run_cli(*team, "volume", "ls", "--json").stdout)
    assert [v["name"] for v in vols] == ["data"]
    assert vols[0]["path"].startswith(str(kiln_home / "namespaces" / "team-a"))
    assert (kiln_home / "namespaces" / "team-a" / "store").is_dir()
    r = run_cli("--namespace", "Team_A", "runs", "ls")
    assert r.returncode != 0 and "not a namespace name" in r.stderr
    # KILN_NAMESPACE says the same as --namespace
    assert runs() == [] and team_run in run_cli("runs", "ls", env={
        "KILN_NAMESPACE": "team-a"}).stdout


def test_rest_namespaces_and_background_runs_in_them():
    with kiln_server("--no-scheduler") as base, httpx.Client(base_url=f"{base}/api/v1",
                                                             timeout=60) as c:
        team = {"namespace": "team-b"}
        r = c.post("/pipelines", params=team, files={"file": ("p.py", PIPE.encode())},
                   data={"entry": "pipe"})
        assert r.status_code == 201, r.text
        assert c.get("/pipelines").json() == []  # not in the default namespace
        run = c.post("/runs", params=team, json={"pipeline": "ns-pipe", "params": {"n": 4}})
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        deadline = time.monotonic() + 120
        while c.get(f"/runs/{run_id}", params=team).json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        got = c.get(f"/runs/{run_id}", headers={"X-Kiln-Namespace": "team-b"}).json()
        assert got["status"] == "succeeded" and got["params"]["n"] == 4
        assert c.get(f"/runs/{run_id}").status_code == 404
        assert c.get("/runs").json()["runs"] == []
        out = c.get(f"/runs/{run_id}/steps/make/outputs/output/preview", params=team)
        assert out.status_code == 200, out.text
        assert c.get("/namespaces").json() == {"namespaces": ["default", "team-b"],
                                                "default": "default", "roles": {}}
        bad = c.get("/runs", params={"namespace": "../etc"})
        assert bad.status_code == 400
        assert bad.json()["error"]["where"] == "namespace"


def test_reading_an_unknown_namespace_creates_nothing(api, kiln_home):
    r = api.get("/runs", params={"namespace": "never-used"})
    assert r.status_code == 404 and r.json()["error"]["where"] == "namespace"
    assert api.get("/volumes", headers={"X-Kiln-Namespace": "never-used"}).status_code == 404
    assert not (kiln_home / "namespaces" / "never-used").exists()
    assert api.get("/namespaces").json()["namespaces"] == ["default"]
    made = api.post("/volumes", params={"namespace": "never-used"}, json={"name": "data"})
    assert made.status_code == 201, made.text  # a write creates the namespace
    assert api.get("/volumes", params={"namespace": "never-used"}).status_code == 200
