"""The CLI against a remote `kiln server` (KILN_URL + KILN_TOKEN): two users with their own
KILN_HOMEs run pipelines on one server (its catalog in PostgreSQL, its store in S3, both on
loopback) and see each other's runs, logs and outputs; nothing is written to their own homes;
bad addresses, tokens and commands without a remote form are clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from kiln.cli import status
from tests.conftest import PostgresServer, kiln_server, run_cli

TOKEN = "team-secret-1"

MODULE = '''
import kiln
import pandas as pd

@kiln.step
def make(n: int) -> pd.DataFrame:
    print(f"making {n} rows")
    return pd.DataFrame({"a": range(n), "b": [i * 0.5 for i in range(n)]})

@kiln.step
def summarize(df: pd.DataFrame, scale: float) -> float:
    if scale < 0:
        raise ValueError("scale must not be negative")
    kiln.log_metric("total", float(df["b"].sum() * scale))
    return float(df["b"].sum() * scale)

@kiln.pipeline(name="numbers")
def numbers(n: int = 6, scale: float = 2.0):
    summarize(make(n), scale)
'''


@pytest.fixture
def server(kiln_home: Path) -> Iterator[str]:
    with kiln_server(env={"KILN_SERVER_TOKEN": TOKEN}) as base:
        yield base


@pytest.fixture
def shared_server(kiln_home: Path, postgres: PostgresServer, s3_env: str) -> Iterator[str]:
    """The deployment of docs/deploy.md: the server's catalog in PostgreSQL, its store in S3;
    only the server has their addresses and credentials."""
    import boto3

    boto3.client("s3").create_bucket(Bucket="team")
    with kiln_server(env={"KILN_SERVER_TOKEN": TOKEN, "KILN_STORE": "s3://team/kiln",
                          "KILN_S3_ENDPOINT_URL": s3_env,
                          "KILN_DATABASE_URL": postgres.url(postgres.create_database())}
                     ) as base:
        yield base


def user(tmp_path: Path, name: str, url: str, token: str = TOKEN) -> dict[str, str]:
    # no database or store of their own to fall back on: only the server's address and token
    return {"KILN_HOME": str(tmp_path / f"home-{name}"), "KILN_URL": url, "KILN_TOKEN": token,
            "KILN_DATABASE_URL": "", "KILN_STORE": "", "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": ""}


def test_two_users_run_on_one_server_and_see_each_others_runs(shared_server: str,
                                                               tmp_path: Path) -> None:
    (tmp_path / "numpipe.py").write_text(MODULE)
    alice, bob = user(tmp_path, "alice", shared_server), user(tmp_path, "bob", shared_server)

    r = run_cli("run", "numpipe.py:numbers", "-p", "n=8", "-e", "shared", cwd=tmp_path, env=alice)
    assert r.returncode == 0, r.stderr
    assert "pipeline numbers version 1 on http" in r.stdout
    assert "make | making 8 rows" in r.stdout  # the step's log, followed from the server
    assert "succeeded" in r.stdout and "total=28" in r.stdout
    r = run_cli("run", "numpipe.py:numbers", "-p", "n=4", "-l", "who=bob", cwd=tmp_path, env=bob)
    assert r.returncode == 0, r.stderr

    # each sees both runs, with the other's parameters, metrics and labels
    for env in (alice, bob):
        r = run_cli("runs", "ls", "--json", env=env)
        assert r.returncode == 0, r.stderr
        runs = json.loads(r.stdout)
        assert [x["params"]["n"] for x in runs] == [4, 8]
        assert runs[0]["labels"] == {"who": "bob"} and runs[1]["experiment"] == "shared"
        assert runs[1]["metrics"] == {"total": 28.0}
    alices = json.loads(run_cli("runs", "ls", "--json", "-e", "shared", env=bob).stdout)
    assert len(alices) == 1
    run_id = alices[0]["id"]

    r = run_cli("runs", "show", run_id[:12], env=bob)  # ids share 8 chars for ~4 s
    assert r.returncode == 0 and "pandas-parquet" in r.stdout and "total=28" in r.stdout
    r = run_cli("logs", run_id, "make", env=bob)
    assert r.stdout.strip() == "making 8 rows"
    r = run_cli("artifacts", "get", run_id, "make", "output", "-o", str(tmp_path / "a.parquet"),
                env=bob)
    assert r.returncode == 0, r.stderr
    frame = pd.read_parquet(tmp_path / "a.parquet")
    assert list(frame["a"]) == list(range(8))
    listing = run_cli("pipeline", "ls", "--json", env=bob)
    assert [(p["name"], p["versions"], p["runs"]) for p in json.loads(listing.stdout)] == \
        [("numbers", 1, 2)]  # the same file twice is one version

    # the work happened on the server: neither user's own home was touched
    assert not (tmp_path / "home-alice").exists() and not (tmp_path / "home-bob").exists()


def test_a_failed_remote_run_exits_non_zero_with_the_steps_error(server: str,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "numpipe.py").write_text(MODULE)
    r = run_cli("run", "numpipe.py:numbers", "-p", "scale=-1", "-q", cwd=tmp_path,
                env=user(tmp_path, "a", server))
    assert r.returncode == status.RUN_FAILED
    assert "failed" in r.stdout and "scale must not be negative" in r.stdout
    assert "make | " not in r.stdout  # --quiet: states only


def test_remote_bad_input_is_a_clear_error(server: str, tmp_path: Path) -> None:
    (tmp_path / "numpipe.py").write_text(MODULE)
    env = user(tmp_path, "a", server)

    r = run_cli("runs", "ls", env={**env, "KILN_TOKEN": "wrong"})
    assert r.returncode == status.USER_ERROR
    assert "the server refused the request: the token is wrong" in r.stderr
    assert "KILN_TOKEN" in r.stderr

    r = run_cli("runs", "ls", env={**env, "KILN_URL": "http://127.0.0.1:9"})
    assert r.returncode == status.USER_ERROR and "cannot reach the kiln server" in r.stderr

    r = run_cli("runs", "ls", env={**env, "KILN_URL": "127.0.0.1:8765"})
    assert r.returncode == status.USER_ERROR and "is not a server address" in r.stderr

    r = run_cli("--namespace", "team-a", "store", "gc", env=env)  # no remote form
    assert r.returncode == status.USER_ERROR
    assert "`kiln store gc` works on this machine's KILN_HOME" in r.stderr
    assert "runs ls" in r.stderr  # the hint lists what does work remotely

    r = run_cli("run", "numpipe.py:numbers", "--no-cache", cwd=tmp_path, env=env)
    assert r.returncode == status.USER_ERROR and "--no-cache is for runs on this machine" in r.stderr

    r = run_cli("run", "nothere.py", cwd=tmp_path, env=env)
    assert r.returncode == status.USER_ERROR and "no such file: nothere.py" in r.stderr

    r = run_cli("run", "numpipe.py:numbers", "-p", "n=many", cwd=tmp_path, env=env)
    assert r.returncode == status.USER_ERROR and "'n'" in r.stderr  # the server's type check

    r = run_cli("runs", "show", "nope", env=env)
    assert r.returncode == status.NOT_FOUND and "no run 'nope'" in r.stderr

    r = run_cli("compile", "numpipe.py:numbers", cwd=tmp_path, env=env)  # needs no home
    assert r.returncode == 0 and '"name": "numbers"' in r.stdout
    assert not (tmp_path / "home-a").exists()


def test_a_server_that_is_not_kilnflow_is_named(tmp_path: Path) -> None:
    import http.server
    import threading

    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        r = run_cli("runs", "ls", env=user(tmp_path, "a", url), cwd=tmp_path)
        assert r.returncode == status.USER_ERROR
        assert "without a kilnflow error" in r.stderr and "kiln server" in r.stderr
    finally:
        httpd.shutdown()
        httpd.server_close()
