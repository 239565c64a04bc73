"""`kiln pipeline upload|ls` and `kiln runs cancel|label|archive|rm`, as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.conftest import run_cli, sigint_as_terminal

PIPE = '''
import time
import kiln

@kiln.step
def wait(seconds: float) -> float:
    print("waiting", flush=True)
    time.sleep(seconds)
    kiln.log_metric("waited", seconds)
    return seconds

@kiln.pipeline(name="waits")
def waits(seconds: float = 0.0):
    wait(seconds)
'''


def test_upload_versions_and_list(kiln_home, module):
    path = module(PIPE, name="waits")
    r = run_cli("pipeline", "upload", str(path), "--entry", "waits", "-m", "first")
    assert r.returncode == 0, r.stderr
    assert "pipeline waits version 1 (1 steps)" in r.stdout
    assert "version 2" in run_cli("pipeline", "upload", str(path), "--entry", "waits").stdout
    listed = json.loads(run_cli("pipeline", "ls", "--json").stdout)
    assert [(p["name"], p["versions"]) for p in listed] == [("waits", 2)]
    bad = run_cli("pipeline", "upload", str(path), "--entry", "nope")
    assert bad.returncode != 0 and "nope" in bad.stderr
    missing = run_cli("pipeline", "upload", "missing.py")
    assert missing.returncode != 0 and "no such file" in missing.stderr
    # module.py:function, as kiln run takes it
    r = run_cli("pipeline", "upload", f"{path}:waits")
    assert r.returncode == 0, r.stderr
    assert "pipeline waits version 3" in r.stdout
    clash = run_cli("pipeline", "upload", f"{path}:waits", "--entry", "other")
    assert clash.returncode != 0 and "--entry" in clash.stderr
    gone = run_cli("pipeline", "upload", "missing.py:waits")
    assert gone.returncode != 0 and "no such file: missing.py" in gone.stderr


def test_label_filter_archive_and_delete(kiln_home, module):
    path = module(PIPE, name="waits")
    assert run_cli("run", f"{path}:waits", "-q", "-l", "team=a").returncode == 0
    assert run_cli("run", f"{path}:waits", "-q", "--no-cache").returncode == 0
    runs = json.loads(run_cli("runs", "ls", "--json").stdout)
    newer, older = runs[0]["id"], runs[1]["id"]
    assert runs[1]["labels"] == {"team": "a"} and runs[0]["labels"] == {}
    r = run_cli("runs", "label", newer, "team=b", "stage=dev")
    assert r.returncode == 0 and "stage=dev" in r.stdout
    assert "team=b" in run_cli("runs", "label", newer, "stage-").stdout
    found = json.loads(run_cli("runs", "ls", "--json", "--filter", "labels.team = b").stdout)
    assert [x["id"] for x in found] == [newer]
    bad = run_cli("runs", "label", newer, "bad key=1")
    assert bad.returncode != 0 and "label key" in bad.stderr
    assert run_cli("runs", "archive", older).returncode == 0
    assert [x["id"] for x in json.loads(run_cli("runs", "ls", "--json").stdout)] == [newer]
    assert run_cli("runs", "archive", older, "--undo").returncode == 0
    assert run_cli("runs", "rm", older).returncode == 0
    assert [x["id"] for x in json.loads(run_cli("runs", "ls", "--json").stdout)] == [newer]
    gone = run_cli("runs", "show", older)
    assert gone.returncode != 0 and "no run" in gone.stderr


def test_cancel_a_run_from_another_terminal(kiln_home, module):
    path = module(PIPE, name="waits")
    proc = subprocess.Popen([sys.executable, "-m", "kiln.cli", "run", f"{path}:waits", "-p",
                             "seconds=120"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=sigint_as_terminal)
    deadline = time.monotonic() + 60
    while True:
        runs = json.loads(run_cli("runs", "ls", "--json").stdout or "[]")
        if runs and runs[0]["status"] == "running":
            break
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.3)
    time.sleep(1.0)
    r = run_cli("runs", "cancel", runs[0]["id"])
    assert r.returncode == 0 and "cancel" in r.stdout, r.stdout + r.stderr
    proc.communicate(timeout=60)
    shown = json.loads(run_cli("runs", "ls", "--json").stdout)[0]
    assert shown["status"] == "cancelled"
    again = run_cli("runs", "cancel", runs[0]["id"])
    assert again.returncode != 0 and "already cancelled" in again.stderr
    deleted = run_cli("runs", "rm", runs[0]["id"])
    assert deleted.returncode == 0


def test_runs_have_readable_names_that_resolve_like_ids(kiln_home, module):
    path = module(PIPE, name="waits")
    r = run_cli("run", f"{path}:waits", "-q", "--name", "baseline-0.1")
    assert r.returncode == 0, r.stderr
    assert "(baseline-0.1) succeeded" in r.stdout
    assert run_cli("run", f"{path}:waits", "-q").returncode == 0
    runs = json.loads(run_cli("runs", "ls", "--json").stdout)
    made_up, named = runs[0], runs[1]
    assert named["name"] == "baseline-0.1"
    # a made-up name: adjective-animal-number, never mistaken for an id
    words = made_up["name"].split("-")
    assert len(words) == 3 and words[2].isdigit() and not words[0].isdigit()
    shown = json.loads(run_cli("runs", "show", "baseline-0.1", "--json").stdout)
    assert shown["id"] == named["id"]
    assert "baseline-0.1" in run_cli("runs", "ls").stdout
    # an id in capitals (as pasted from somewhere that shouts) resolves too
    assert json.loads(run_cli("runs", "show", named["id"].upper(), "--json").stdout)["id"] == \
        named["id"]
    # two runs with one name: the name is ambiguous, and the answer says how to pick
    assert run_cli("run", f"{path}:waits", "-q", "--name", "baseline-0.1").returncode == 0
    both = run_cli("runs", "show", "baseline-0.1")
    assert both.returncode != 0
    assert "2 runs are named 'baseline-0.1'" in both.stderr and "id" in both.stderr
    for bad in ("cafe", "1st-try", "has space", "x" * 101):
        r = run_cli("run", f"{path}:waits", "-q", "--name", bad)
        assert r.returncode != 0 and "not a run name" in r.stderr, bad
    assert len(json.loads(run_cli("runs", "ls", "--json").stdout)) == 3  # none of them ran
