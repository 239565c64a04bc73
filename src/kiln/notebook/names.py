"""Static name analysis of cell code: what a block of code defines and what it reads from
outside. Reads come from pyflakes (its scoping is exact: functions, classes, comprehensions,
`global`); definitions from a small ast walk of module-level bindings."""

from __future__ import annotations

import ast
import builtins

from pyflakes import checker, messages

# Names a notebook may use without defining them.
NOTEBOOK_BUILTINS = {"display", "get_ipython", "__file__"}


class _Bindings(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.add(node.name)
        for n in ast.walk(node):  # `global x` inside a function binds x at module level
            if isinstance(n, ast.Global):
                self.names.update(n.names)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.add(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def _comprehension(self, node: ast.AST) -> None:
        for n in ast.walk(node):  # only walrus targets leak out of a comprehension
            if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name):
                self.names.add(n.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for a in node.names:
            if a.name != "*":
                self.names.add(a.asname or a.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.names.add(node.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.generic_visit(node)  # `except E as e` unbinds e at the end: not an output


def defined_names(tree: ast.Module) -> set[str]:
    v = _Bindings()
    v.visit(tree)
    return v.names


def imported_names(tree: ast.Module) -> set[str]:
    """Names bound by top-level import statements."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
    return out


def free_names(tree: ast.Module, known: set[str]) -> list[tuple[str, int]]:
    """Names the code reads but never binds before use, with the line of first use.

    `known` are names provided from outside (prelude definitions, parameters) that are
    not inputs. Python builtins are known already.
    """
    w = checker.Checker(tree, filename="<cell>", builtins=set(known) | NOTEBOOK_BUILTINS)
    seen: dict[str, int] = {}
    for m in w.messages:
        if isinstance(m, messages.UndefinedName):
            name = m.message_args[0]
            if name not in seen:
                seen[name] = m.lineno
    return sorted(seen.items(), key=lambda kv: kv[1])


def is_builtin(name: str) -> bool:
    return hasattr(builtins, name) or name in NOTEBOOK_BUILTINS
