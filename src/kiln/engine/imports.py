"""The imports a piece of Python makes, read with `ast` (nothing is imported): each with
where it is written and whether a `try/except ImportError` guards it. Used to preload a
pipeline's libraries in the fork server (warm.py) and to capture what a compiled step must
install (kfp/environment.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from kiln.pysource import parse


@dataclass(frozen=True)
class Import:
    module: str  # as written: "sklearn.ensemble"
    where: str  # "train.ipynb [cell 3], line 2"
    optional: bool = False  # guarded by try/except ImportError

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def imports_in(source: str, where: str) -> Iterator[Import]:
    try:
        tree = parse(source)
    except SyntaxError:
        return  # the spec compiler reports broken code; nothing to resolve here
    yield from walk_imports(tree, where, guarded_lines(tree))


def walk_imports(tree: ast.AST, where: str, guarded: set[int]) -> Iterator[Import]:
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield Import(name, f"{where}, line {node.lineno}", node.lineno in guarded)


def guarded_lines(tree: ast.AST) -> set[int]:
    """Lines inside a `try` whose handlers catch ImportError (or broader)."""
    catching = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        names = set()
        for h in node.handlers:
            if h.type is None:
                names.add("Exception")
            for n in ast.walk(h.type) if h.type is not None else ():
                if isinstance(n, ast.Name):
                    names.add(n.id)
        if names & catching:
            for stmt in node.body:
                out.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return out
