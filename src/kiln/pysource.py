"""`ast.parse` safe to call from several threads at once.

CPython 3.11 keeps the AST constructor's recursion depth per interpreter, not per thread.
When a garbage-collected finalizer lets another thread run in the middle of building one
tree, and that thread builds a tree too, the count goes wrong and `ast.parse` raises
`SystemError: AST constructor recursion depth mismatch` (python/cpython#106905). A tuning
study starts its trials in threads, and each trial reads its steps' imports with `ast`; one
demo trial in six failed this way. One lock makes our parses take turns; a parse takes
microseconds to a few milliseconds.
"""

from __future__ import annotations

import ast
import threading

_lock = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with _lock:
        return ast.parse(source, filename=filename)
