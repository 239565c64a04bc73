from __future__ import annotations

import json
import os
import sys

from tests.conftest import run_cli

PIPE = '''
import kiln

@kiln.step
def double(n: int) -> int:
    print(f"doubling {n}")
    kiln.log_metric("doubled", n * 2)
    return n * 2

@kiln.pipeline(name="tiny")
def tiny(n: int = 2):
    double(n)
'''


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("kilnflow ")


def test_run_show_logs_and_artifacts(module, tmp_path):
    path = module(PIPE)
    r = run_cli("run", str(path), "-p", "n=5")
    assert r.returncode == 0, r.stderr
    assert "double" in r.stdout and "doubling 5" in r.stdout and "succeeded" in r.stdout
    runs = json.loads(run_cli("runs", "ls", "--json").stdout)
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    run_id = runs[0]["id"]
    shown = json.loads(run_cli("runs", "show", run_id[:8], "--json").stdout)
    assert shown["params"] == {"n": 5} and shown["metrics"] == {"doubled": 10.0}
    assert shown["tasks"][0]["outputs"]["output"]["codec"] == "json"
    assert "doubling 5" in run_cli("logs", "latest", "double").stdout
    out = tmp_path / "out.json"
    r = run_cli("artifacts", "get", run_id, "double", "output", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == 10
    table = run_cli("runs", "show", "latest").stdout
    assert "tiny" in table and "succeeded" in table


def test_compile_writes_a_spec_that_runs(module, tmp_path):
    path = module(PIPE)
    spec = tmp_path / "spec.json"
    r = run_cli("compile", f"{path}:tiny", "-o", str(spec))
    assert r.returncode == 0, r.stderr
    assert json.loads(spec.read_text())["name"] == "tiny"
    r = run_cli("run", str(spec), "-p", "n=4", "-q")
    assert r.returncode == 0, r.stderr
    assert "doubling" not in r.stdout  # --quiet hides step logs


def test_bad_input_gets_a_message_and_exit_code_not_a_traceback(module, tmp_path):
    path = module(PIPE)
    r = run_cli("run", str(path), "-p", "m=1")
    assert r.returncode == 2
    assert "unknown parameter 'm'" in r.stderr and "hint: the pipeline's parameters are: n" \
        in r.stderr and "Traceback" not in r.stderr
    r = run_cli("run", str(path), "-p", "n=abc")
    assert r.returncode == 2 and "'abc' is not a valid int" in r.stderr
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    r = run_cli("run", str(bad))
    assert r.returncode == 2 and "invalid JSON" in r.stderr and "at " in r.stderr
    r = run_cli("runs", "show", "nope")
    assert r.returncode == 3 and "no run 'nope'" in r.stderr
    r = run_cli("run", str(tmp_path / "x.txt"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_a_failed_run_exits_1(module):
    path = module('''
import kiln

@kiln.step
def fail() -> None:
    raise RuntimeError("nope")

@kiln.pipeline
def p():
    fail()
''', name="failing")
    r = run_cli("run", str(path))
    assert r.returncode == 1
    assert "RuntimeError: nope" in r.stdout


def test_demo_runs_and_says_where_to_look():
    r = run_cli("demo", "-q")
    assert r.returncode == 0, r.stderr
    assert "accuracy=" in r.stdout and "kiln runs show" in r.stdout
    assert "served the model" in r.stdout and "same as calling it directly" in r.stdout
    assert "tuned: best roc_auc" in r.stdout and "kiln tune show" in r.stdout


def test_help_does_not_import_the_heavy_parts():
    code = ("import sys; from kiln.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('sqlalchemy', 'pandas', 'pyarrow', 'sklearn') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr


LITERAL = "[epoch 3/10] step:a:b expected list[int] in [/tmp] :smile:"


def test_messages_hints_and_log_lines_print_literally(module, notebook):
    path = module(f'''
import kiln

@kiln.step
def talk() -> int:
    print({LITERAL!r})
    raise ValueError({LITERAL!r})

@kiln.pipeline
def chatty():
    talk()
''', "chatty")
    r = run_cli("run", f"{path}:chatty")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert out.count(LITERAL) >= 2, out  # the log line and the run's error
    r = run_cli("run", "[/tmp]")
    assert r.returncode == 2 and "no such file: [/tmp]" in r.stderr and "Traceback" not in r.stderr
    nb = notebook([(["step:a:b"], "x = 1")])
    r = run_cli("run", str(nb))
    assert r.returncode == 2 and "unknown tag 'step:a:b'" in r.stderr


def test_output_targets_are_respected_and_missing_folders_are_clear(module, tmp_path):
    import stat as st

    path = module(PIPE)
    assert run_cli("run", str(path), "-p", "n=2", "-q").returncode == 0
    # a device is written through, never replaced by a regular file
    for args in (("artifacts", "get", "latest", "double", "output"), ("compile", str(path))):
        r = run_cli(*args, "-o", "/dev/null")
        assert r.returncode == 0, r.stderr
        assert st.S_ISCHR(os.stat("/dev/null").st_mode)
        r = run_cli(*args, "-o", str(tmp_path / "no" / "such" / "dir" / "x.json"))
        said = " ".join(r.stderr.split())  # long paths wrap
        assert r.returncode == 2 and "does not exist" in said and "Traceback" not in said
    # a symlink stays a link, its target gets the bytes
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run_cli("artifacts", "get", "latest", "double", "output", "-o", str(link)).returncode == 0
    assert link.is_symlink() and json.loads(real.read_text()) == 4


def test_piped_listings_are_not_cut_at_80_columns_and_artifacts_ls_has_json(module, tmp_path):
    """`kiln ... ls | grep` once got names cut to fit 80 columns; and every list command has
    --json (`kiln artifacts ls` lacked it)."""
    import json as jsonlib
    import subprocess
    import sys

    long_name = "a-pipeline-whose-name-is-long-enough-to-overflow-eighty-columns-on-its-own"
    module(f"""
        import kiln

        @kiln.step
        def make() -> dict:
            return {{"rows": 3}}

        @kiln.pipeline(name="{long_name}")
        def p() -> None:
            make()
    """, name="longname")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}

    def kiln_cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "kiln.cli", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)  # stdout is a pipe
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    kiln_cli("run", "longname.py:p", "-q")
    listing = kiln_cli("runs", "ls")
    assert long_name in listing
    assert max(len(line) for line in listing.splitlines()) > 80
    items = jsonlib.loads(kiln_cli("artifacts", "ls", "latest", "--json"))
    assert [(a["step"], a["name"], a["codec"]) for a in items] == [("make", "output", "json")]
    assert len(items[0]["digest"]) == 64


def test_kiln_server_on_a_busy_port_fails_before_printing_a_url(kiln_home) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_cli("server", "--port", str(port), "--no-scheduler", timeout=60)
    assert r.returncode != 0
    assert "http://" not in r.stdout + r.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr
    assert "--port" in r.stderr


def test_shell_completion_installs_and_completes_commands(kiln_home) -> None:
    import subprocess

    # from a bash, as a user types it: the completion library finds the shell it runs in
    # ("; exit $?" keeps bash as the parent: a lone command would be exec'd in its place)
    script = subprocess.run(["bash", "-c",
                             f"{sys.executable} -m kiln.cli --show-completion; exit $?"],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0, script.stderr
    assert "complete" in script.stdout and "_KILN_COMPLETE" in script.stdout
    got = run_cli(env={"_KILN_COMPLETE": "complete_bash", "COMP_WORDS": "kiln runs s",
                       "COMP_CWORD": "2"})
    assert got.stdout.split() == ["show"]
    assert "--install-completion" in run_cli("--help").stdout
