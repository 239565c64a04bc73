"""ast.parse from several threads at once (a tuning study's trials start in threads and each
reads its steps' imports): CPython 3.11 raised SystemError "AST constructor recursion depth
mismatch" when a finalizer let another thread parse mid-tree (python/cpython#106905)."""

from __future__ import annotations

import sys
import threading

from kiln.engine.imports import imports_in
from kiln.pysource import parse

SOURCE = "import numpy\n" + "\n".join(
    f"def f{i}(x):\n    return [(a, {{b: c for b, c in x}}) for a in range({i})]"
    for i in range(100))


class _Finalizer:
    def __del__(self) -> None:
        import time

        time.sleep(0)  # lets another thread run, as a real finalizer doing I/O would


def test_parses_in_threads_while_finalizers_run_never_fail() -> None:
    errors: list[BaseException] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible

    def parse_many() -> None:
        try:
            for _ in range(80):
                tree = parse(SOURCE)
                assert len(tree.body) == 101
                assert [i.module for i in imports_in(SOURCE, "x.py")] == ["numpy"]
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    def make_garbage() -> None:
        for _ in range(60_000):
            a = _Finalizer()
            a.cycle = [a]  # type: ignore[attr-defined]

    threads = [threading.Thread(target=parse_many) for _ in range(3)]
    threads.append(threading.Thread(target=make_garbage))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
