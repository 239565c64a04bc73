"""files.atomic_path: the one way kilnflow writes a file a user named (`-o`, volume files)."""

from __future__ import annotations

import os
import stat

import pytest

from kiln.errors import UserError
from kiln.files import atomic_path


def test_a_regular_file_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer died")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    import threading

    def read() -> None:
        with open(fifo) as f:
            got.append(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    with atomic_path(fifo) as tmp:
        tmp.write_text("through the pipe")
    reader.join(10)
    assert got == ["through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_device_is_written_through_and_stays_a_device():
    with atomic_path("/dev/null") as tmp:
        tmp.write_text("discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_device_is_a_clear_error_and_is_not_replaced():
    with pytest.raises(UserError, match="cannot write /dev/full: No space left on device"), \
            atomic_path("/dev/full") as tmp:
        tmp.write_text("x" * 10000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_missing_folder_or_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist") as e, \
            atomic_path(tmp_path / "nowhere" / "x.txt") as tmp:
        tmp.write_text("x")
    assert "create the folder" in e.value.hint
    with pytest.raises(UserError, match="it is a folder"), atomic_path(tmp_path) as tmp:
        tmp.write_text("x")


EXITS = ["import os\nos._exit(0)", "import sys\nsys.exit(3)", "exit()", "raise SystemExit"]


@pytest.mark.parametrize("code", EXITS)
def test_a_module_that_exits_at_import_is_a_clear_error(tmp_path, code):
    from kiln.errors import ModuleExit
    from kiln.files import import_file

    path = tmp_path / "exits.py"
    path.write_text(code + "\n")
    with pytest.raises(ModuleExit, match="exits.py calls .* while it is imported") as e:
        import_file(path, "exits_mod")
    assert e.value.where == str(path) and "__main__" in e.value.hint
    assert os._exit.__module__ in ("posix", "nt")  # the real one is back


@pytest.mark.parametrize("code", EXITS)
def test_kiln_run_and_upload_say_which_module_exits(tmp_path, code, kiln_home):
    import httpx

    from tests.conftest import kiln_server, run_cli

    path = tmp_path / "exits.py"
    path.write_text("import kiln\n\n@kiln.step\ndef a() -> int:\n    return 1\n\n"
                    "@kiln.pipeline\ndef p():\n    a()\n\n" + code + "\n")
    r = run_cli("run", str(path))
    assert r.returncode == 2 and "exits.py calls" in r.stderr, r.stderr
    if code != EXITS[0]:
        return  # one upload is enough to show the REST path
    with kiln_server() as base:
        up = httpx.post(f"{base}/api/v1/pipelines", files={"file": ("exits.py", code.encode())},
                        timeout=60)
    assert up.status_code == 400 and "exits.py calls" in up.json()["error"]["message"]
