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


# Builtins that can change the object they are given (or consume an iterator).
_MUTATING_BUILTINS = {"setattr", "delattr", "next", "exec", "eval", "vars"}


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Every node a module's own code runs: function, class and lambda bodies left out
    (their names are not the module's until called), decorators and defaults kept."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(node.decorator_list)
            todo.extend(d for d in node.args.defaults + node.args.kw_defaults if d is not None)
        elif isinstance(node, ast.ClassDef):
            todo.extend(node.decorator_list + node.bases + [k.value for k in node.keywords])
        elif isinstance(node, ast.Lambda):
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))
    return out


def _base_name(node: ast.AST) -> str | None:
    """`df` for `df`, `df.a.b`, `df['x'][0]`: the variable an expression starts from."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def changed_names(tree: ast.Module) -> dict[str, int]:
    """Names whose value the module's code may change in place, with the first line: an item
    or attribute set or deleted (`df['x'] = 1`, `del d[k]`), a method called on it
    (`df.fillna(0, inplace=True)`, `xs.append(1)`) or the value passed to a call
    (`np.random.shuffle(a)`). Static analysis cannot tell a method that mutates from one
    that reads, so this errs towards "may change": the cost is a value stored again (and
    deduplicated by content), never a wrong answer."""
    return _changes(_module_level(tree))


def _changes(nodes: list[ast.AST]) -> dict[str, int]:
    out: dict[str, int] = {}

    def note(name: str | None, line: int) -> None:
        if name is not None and (name not in out or line < out[name]):
            out[name] = line

    for node in nodes:
        if isinstance(node, (ast.Attribute, ast.Subscript)) and \
                isinstance(node.ctx, (ast.Store, ast.Del)):
            note(_base_name(node.value), node.lineno)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                note(_base_name(node.func.value), node.lineno)
            if isinstance(node.func, ast.Name) and is_builtin(node.func.id) and \
                    node.func.id not in _MUTATING_BUILTINS:
                continue  # print(df), len(xs), sorted(xs): builtins that only read
            for a in [*node.args, *(k.value for k in node.keywords)]:
                a = a.value if isinstance(a, ast.Starred) else a
                if isinstance(a, ast.Name):
                    note(a.id, node.lineno)
    return out


def _callables(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """(name, node) of the functions, classes and lambdas the module's code defines."""
    out: list[tuple[str, ast.AST]] = []
    for node in _module_level(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.name, node))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and \
                len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.append((node.targets[0].id, node))
    return out


def callables_changed(tree: ast.Module, free: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each function of `callables_free_names`, the global names its body may change in
    place or rebinds with `global`."""
    out: dict[str, set[str]] = {}
    for name, node in _callables(tree):
        body = list(ast.walk(node))
        declared = {n for g in body if isinstance(g, ast.Global) for n in g.names}
        out[name] = out.get(name, set()) | (set(_changes(body)) & free.get(name, set())) | \
            declared
    return out


def loaded_names(tree: ast.Module) -> dict[str, int]:
    """Every name the code reads anywhere (function bodies included), with its first line."""
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in out or node.lineno < out[node.id]:
                out[node.id] = node.lineno
    return out


def callables_free_names(tree: ast.Module, known: set[str]) -> dict[str, set[str]]:
    """The module-level functions, classes and lambdas a block of code defines (also inside
    `if`/`try`/`with`), each with the global names its body reads but does not bind itself.

    A function travels to later steps as a value; called there it must find these names in
    the calling step's globals, as it would in a notebook kernel (see engine/worker.py).
    """
    out: dict[str, set[str]] = {}
    for name, node in _callables(tree):
        body = ast.Module(body=[node], type_ignores=[])  # type: ignore[list-item]
        free = {n for n, _ in free_names(body, known) if not is_builtin(n)}
        out[name] = out.get(name, set()) | free
    return out
