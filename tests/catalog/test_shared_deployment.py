"""A shared kilnflow on one machine (docs/deploy.md): Debian's PostgreSQL and an S3-compatible
server on loopback, two clients with separate KILN_HOMEs. One runs a pipeline; the other sees
the run, its metrics and lineage, and loads its output, though none of it is in its home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, PostgresServer, run_cli

PIPE = '''
import kiln

@kiln.step
def make(n: int) -> list:
    kiln.log_metric("size", n)
    return [i * i for i in range(n)]

@kiln.pipeline(name="shared", experiment="team")
def shared(n: int = 5):
    make(n)
'''


def test_two_clients_share_runs_and_artifacts(postgres: PostgresServer, s3_env: str,
                                              tmp_path: Path):
    if ON_POSTGRES:
        pytest.skip("runs once, in the default run (it starts its own database)")
    import boto3

    boto3.client("s3").create_bucket(Bucket="team")
    db = postgres.create_database()
    shared = {"KILN_DATABASE_URL": postgres.url(db), "KILN_STORE": "s3://team/kiln",
              "KILN_S3_ENDPOINT_URL": s3_env}
    alice = {**shared, "KILN_HOME": str(tmp_path / "alice")}
    bob = {**shared, "KILN_HOME": str(tmp_path / "bob")}
    module = tmp_path / "shared.py"
    module.write_text(PIPE)
    try:
        r = run_cli("run", f"{module}:shared", "-p", "n=7", "-q", env=alice)
        assert r.returncode == 0, r.stderr
        listed = json.loads(run_cli("runs", "ls", "--json", env=bob).stdout)
        assert len(listed) == 1 and listed[0]["metrics"] == {"size": 7.0}
        run_id = listed[0]["id"]
        out = tmp_path / "bob-output.bin"
        r = run_cli("artifacts", "get", run_id, "make", "output", "-o", str(out), env=bob)
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 0
        r = subprocess.run([sys.executable, "-c", f"import kiln; print(kiln.load('{run_id}', "
                            "'make'))"], capture_output=True, text=True,
                           env={**os.environ, **bob})
        assert r.stdout.strip() == str([i * i for i in range(7)]), r.stderr
        lineage = json.loads(run_cli("lineage", run_id, "--json", env=bob).stdout)
        assert {t["step"] for t in lineage["tasks"]} == {"make"}
        # bob's home holds no catalog and no store of its own: it all came from the services
        assert not (tmp_path / "bob" / "catalog.db").exists()
        assert not any((tmp_path / "bob" / "store").glob("data/*"))
        keys = [o["Key"] for o in
                boto3.client("s3").list_objects_v2(Bucket="team")["Contents"]]
        assert any(k.startswith("kiln/data/") for k in keys)
        # a second run from bob is alice's to see
        assert run_cli("run", f"{module}:shared", "-p", "n=2", "-q", env=bob).returncode == 0
        assert len(json.loads(run_cli("runs", "ls", "--json", env=alice).stdout)) == 2
    finally:
        postgres.drop_database(db)
