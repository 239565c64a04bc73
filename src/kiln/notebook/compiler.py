"""A Kale-tagged notebook becomes a PipelineSpec.

Cells are grouped by Kale's rules (see tags.py and ../shared/REFERENCE.md), then a static
name analysis decides what each step reads from which ancestor: those are the values passed
between steps. Every error names the notebook, the cell and the line.
"""

from __future__ import annotations

import ast
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import NotebookError
from kiln.notebook.names import (
    callables_changed,
    callables_free_names,
    changed_names,
    defined_names,
    free_names,
    is_builtin,
    loaded_names,
)
from kiln.notebook.source import clean_source
from kiln.notebook.tags import CellTags, parse_tags
from kiln.pysource import parse
from kiln.spec.model import Cell, InputSpec, ParamSpec, PipelineSpec, StepSpec
from kiln.spec.params import type_of
from kiln.spec.validate import validate

METRICS_STEP = "pipeline_metrics"


class NotebookWarning(UserWarning):
    """Something in a notebook was skipped (e.g. a shell or magic line)."""


@dataclass
class _Step:
    name: str
    cells: list[Cell] = field(default_factory=list)
    prev: list[str] = field(default_factory=list)
    tags: CellTags = field(default_factory=CellTags)
    first_cell: int = 0


@dataclass
class _Sections:
    steps: dict[str, _Step] = field(default_factory=dict)
    imports: list[Cell] = field(default_factory=list)
    functions: list[Cell] = field(default_factory=list)
    parameters: list[Cell] = field(default_factory=list)
    metrics: list[Cell] = field(default_factory=list)


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook as plain JSON, with clear errors for what is not a v4 notebook."""
    where = str(path)
    if not path.exists():
        raise NotebookError(f"no such file: {path}", hint="check the path")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text", where=where) from None
    except json.JSONDecodeError as e:
        raise NotebookError(f"not a notebook: invalid JSON ({e.msg})",
                            where=f"{where}, line {e.lineno}, column {e.colno}",
                            hint="the file may be truncated; open and re-save it in Jupyter") \
            from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise NotebookError("not a notebook: a .ipynb file is a JSON object with 'cells' and "
                            "'nbformat'", where=where)
    if not isinstance(raw["nbformat"], int) or raw["nbformat"] < 4:
        raise NotebookError(
            f"notebook format {raw['nbformat']} is too old (kilnflow reads nbformat 4)",
            where=where, hint="upgrade it: `jupyter nbconvert --to notebook --nbformat 4`")
    import nbformat

    try:
        with warnings.catch_warnings():  # e.g. missing cell ids in nbformat 4.4 files: harmless
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(raw), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as e:
        raise NotebookError(f"not a valid notebook: {e}", where=where) from None
    return dict(nb)


def compile_notebook(path: str | os.PathLike[str]) -> PipelineSpec:
    nb_path = Path(path).resolve()
    nb = read_notebook(nb_path)
    meta = nb.get("metadata", {}).get("kubeflow_notebook", {}) or {}
    if not isinstance(meta, dict):
        raise NotebookError("notebook metadata 'kubeflow_notebook' must be an object",
                            where=str(nb_path))
    sections = _group_cells(nb_path, nb["cells"])
    params = _parameters(sections.parameters)
    metric_names = _metric_names(sections.metrics)
    prelude = sections.imports + sections.functions
    for c in prelude:
        _parse(c)  # syntax errors in imports/functions cells surface here
    steps = _analyse(nb_path, sections, params, prelude, metric_names)
    explicit_cache = {n for n, st in sections.steps.items() if st.tags.cache is not None}
    _apply_defaults(steps, meta, str(nb_path), explicit_cache)
    experiment = meta.get("experiment_name") or (meta.get("experiment") or {}).get("name") or None
    spec = PipelineSpec(
        name=_pipeline_name(meta.get("pipeline_name") or nb_path.stem),
        steps=steps,
        parameters=params,
        experiment=experiment,
        description=meta.get("pipeline_description") or "",
        prelude=prelude,
        workdir=str(nb_path.parent),
        source={"kind": "notebook", "path": str(nb_path)},
        metadata={**({"kubeflow_notebook": meta} if meta else {}),
                  **_kiln_metadata(nb.get("metadata", {}), str(nb_path))},
    )
    validate(spec, origin=str(nb_path))
    return spec


def _kiln_metadata(metadata: dict[str, Any], where: str) -> dict[str, Any]:
    """kilnflow's own notebook metadata, beside Kale's: {"kiln": {"requirements": [...]}}
    (pip requirements the Kubeflow compile installs in every step, over the captured pins)."""
    own = metadata.get("kiln")
    if own is None:
        return {}
    if not isinstance(own, dict):
        raise NotebookError("notebook metadata 'kiln' must be an object",
                            where=f"{where}: metadata kiln")
    reqs = own.get("requirements", [])
    if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
        raise NotebookError("metadata 'kiln.requirements' must be a list of pip requirements",
                            where=f"{where}: metadata kiln.requirements",
                            hint='e.g. ["pandas==2.2.3", "requests>=2"]')
    unknown = sorted(set(own) - {"requirements"})
    if unknown:
        raise NotebookError(f"unknown key(s) in metadata 'kiln': {', '.join(unknown)}",
                            where=f"{where}: metadata kiln", hint="kiln knows: requirements")
    return {"kiln": {"requirements": list(reqs)}}


def _pipeline_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "pipeline"


def _group_cells(nb_path: Path, cells: list[Any]) -> _Sections:
    """Kale's grouping: an untagged cell continues the nearest non-skip tagged cell above."""
    out = _Sections()
    current: str | None = None  # "step:<name>", "imports", "functions", ...
    metrics_seen = False
    for i, cell in enumerate(cells):
        index = i + 1
        if cell.get("cell_type") != "code":
            continue
        where = f"{nb_path.name}, cell {index}"
        tags = parse_tags(cell.get("metadata", {}).get("tags"), where=where)
        if tags.ignored:
            warnings.warn(f"{where}: tag(s) {', '.join(repr(t) for t in tags.ignored)} "
                          f"ignored: {tags.why_ignored} (as Kale reads it)",
                          NotebookWarning, stacklevel=2)
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if tags.section == "skip":
            continue
        if tags.section == "step":
            if metrics_seen:
                raise NotebookError("a step cannot come after the pipeline-metrics cell",
                                    where=where, hint="move the pipeline-metrics cell last")
            name = tags.step or ""
            if name == METRICS_STEP:
                raise NotebookError(f"'{METRICS_STEP}' is reserved for the metrics step",
                                    where=where, hint="choose another step name")
            if name not in out.steps:
                out.steps[name] = _Step(name, first_cell=index)
            current = f"step:{name}"
        elif tags.section is not None:
            current = tags.section
            metrics_seen = metrics_seen or current == "metrics"
        else:
            _untagged_options(tags, where)
            tags = CellTags()  # what was not refused was set aside
            if current is None:
                continue  # untagged cells before the first tagged cell are ignored
        code, dropped = clean_source(source)
        for line, text in dropped:
            warnings.warn(f"{where}, line {line}: {text}", NotebookWarning, stacklevel=2)
        cell_obj = Cell(source=code, index=index, filename=f"{nb_path.name} [cell {index}]")
        if current.startswith("step:"):
            step = out.steps[current[5:]]
            step.cells.append(cell_obj)
            _merge_tags(step, tags, out.steps, where)
        else:
            if tags.has_step_options:
                raise NotebookError(f"step options (prev:, limit:, ...) on a {current} cell",
                                    where=where, hint="put them on a step:NAME cell")
            getattr(out, current).append(cell_obj)
    return out


def _untagged_options(tags: CellTags, where: str) -> None:
    """Step options on a cell with no step tag. Kale refuses prev:, limit: and annotation:
    there, and so do we (merged into the step above they would change its graph or
    resources without a word); Kale never applies a notebook's label: tags, so one here is
    set aside with a warning rather than refusing a notebook Kale runs."""
    if not tags.has_step_options:
        return
    labels = [t for t in tags.option_tags if t.startswith("label:")]
    others = [t for t in tags.option_tags if not t.startswith("label:")]
    if others:
        raise NotebookError(
            f"tag(s) {', '.join(repr(t) for t in others)} on a cell with no step tag",
            where=where, hint="step options belong on the cell that names the step: add "
            "step:NAME to this cell, or move the tags to the step's first cell")
    warnings.warn(f"{where}: tag(s) {', '.join(repr(t) for t in labels)} ignored: the cell "
                  "has no step tag (Kale ignores them too); put them on the step's cell",
                  NotebookWarning, stacklevel=3)


def _merge_tags(step: _Step, tags: CellTags, steps: dict[str, _Step], where: str) -> None:
    for p in tags.prev:
        if p == step.name:
            raise NotebookError(f"step '{step.name}' cannot follow itself (prev:{p})",
                                where=where)
        if p not in steps:
            above = ", ".join(s for s in steps if s != step.name) or "none"
            raise NotebookError(f"prev:{p} names no step defined above this cell", where=where,
                                hint=f"steps so far: {above}")
        if p not in step.prev:
            step.prev.append(p)
    t = step.tags
    t.limits.update(tags.limits)
    t.labels.update(tags.labels)
    t.annotations.update(tags.annotations)
    t.secrets.update(tags.secrets)
    if tags.cache is not None:
        t.cache = tags.cache
    if tags.image:
        t.image = tags.image
    if tags.distributed:
        t.distributed = tags.distributed


def _at(cell: Cell, line: int) -> str:
    """'train.ipynb, cell 5, line 2': where an error is, in the user's terms."""
    notebook = cell.filename.rsplit(" [cell", 1)[0]
    return f"{notebook}, cell {cell.index}, line {line}"


def _parse(cell: Cell) -> ast.Module:
    try:
        return parse(cell.source, filename=cell.filename)
    except SyntaxError as e:
        raise NotebookError(f"syntax error: {e.msg}", where=_at(cell, e.lineno or 1),
                            hint="fix the cell; shell (!) and magic (%) lines are dropped "
                            "automatically") from None


def _parameters(cells: list[Cell]) -> list[ParamSpec]:
    out: dict[str, ParamSpec] = {}
    for c in cells:
        for node in _parse(c).body:
            where = _at(c, node.lineno)
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name):
                name, value_node = node.targets[0].id, node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                    node.value is not None:
                name, value_node = node.target.id, node.value
            else:
                raise NotebookError("a pipeline-parameters cell may only hold assignments like "
                                    "`NAME = 10`", where=where)
            try:
                value = ast.literal_eval(value_node)
            except ValueError:
                raise NotebookError(
                    f"parameter '{name}' must be a literal value, found "
                    f"`{ast.unparse(value_node)}`", where=where,
                    hint="parameters are constants (numbers, strings, booleans, lists, dicts); "
                    "compute derived values in a step") from None
            ptype = type_of(value)
            if ptype is None:
                raise NotebookError(f"parameter '{name}' = {value!r} has no parameter type",
                                    where=where, hint="use an int, float, str, bool, list or dict")
            if name in out:
                raise NotebookError(f"duplicate parameter '{name}'", where=where,
                                    hint="define each parameter once")
            out[name] = ParamSpec(name, ptype, list(value) if isinstance(value, tuple) else value)
    return list(out.values())


def _metric_names(cells: list[Cell]) -> list[str]:
    names: list[str] = []
    for c in cells:
        for node in _parse(c).body:
            ok = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                  and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"
                  and len(node.value.args) == 1 and not node.value.keywords
                  and isinstance(node.value.args[0], ast.Name))
            if not ok:
                raise NotebookError("a pipeline-metrics cell may only hold lines like "
                                    "`print(accuracy)`", where=_at(c, node.lineno))
            name = node.value.args[0].id  # type: ignore[attr-defined]
            if name not in names:
                names.append(name)
    return names


@dataclass
class _Code:
    """A step's cells joined into one module for analysis, with a map back to cells."""

    tree: ast.Module
    offsets: list[tuple[int, Cell]]  # (first line in joined code, cell)

    def where(self, line: int) -> str:
        start, cell = self.offsets[0]
        for s, c in self.offsets:
            if s <= line:
                start, cell = s, c
        return _at(cell, line - start + 1)


def _join(cells: list[Cell]) -> _Code:
    lines: list[str] = []
    offsets = []
    for c in cells:
        _parse(c)
        offsets.append((len(lines) + 1, c))
        lines.extend(c.source.split("\n"))
    return _Code(parse("\n".join(lines)), offsets)


def _ancestors(steps: dict[str, _Step]) -> dict[str, set[str]]:
    memo: dict[str, set[str]] = {}

    def walk(name: str, path: tuple[str, ...]) -> set[str]:
        if name in memo:
            return memo[name]
        if name in path:
            raise NotebookError(f"the steps form a cycle: {' -> '.join(path + (name,))}",
                                hint="check the prev: tags along that path")
        out: set[str] = set()
        for p in steps[name].prev:
            out |= {p} | walk(p, path + (name,))
        memo[name] = out
        return out

    return {n: walk(n, ()) for n in steps}


def _topological(steps: dict[str, _Step]) -> list[str]:
    """Steps in notebook order, each after its prev: steps (cycles were refused already)."""
    done: list[str] = []
    todo = list(steps)
    while todo:
        n = next(n for n in todo if all(p in done for p in steps[n].prev))
        done.append(n)
        todo.remove(n)
    return done


def _nearest(definers: set[str], ancestors: dict[str, set[str]]) -> set[str]:
    """Drop definers that are ancestors of another definer: the nearest one wins."""
    return {d for d in definers if not any(d in ancestors[o] for o in definers if o != d)}


@dataclass
class _Flow:
    """Where each name's value comes from, step by step (see docs/kale-compatibility.md).

    A step *provides* a name to the steps after it when it binds the name, or when it
    received the name and may have changed the value in place (`df['x'] = 1`,
    `df.fillna(0, inplace=True)`, `shuffle(a)`). A reader takes the value its nearest
    ancestor provides. Parallel branches that both provide it are resolved as a kernel
    running the cells top to bottom would: the branch whose cells come last wins, with a
    warning (the other branch's changes are not seen). No notebook is refused for it.
    """

    ancestors: dict[str, set[str]]
    order: list[str]  # steps in notebook order
    binds: dict[str, set[str]]
    provides: dict[str, set[str]]

    def source(self, name: str, candidates: set[str]) -> tuple[str | None, list[str]]:
        """(the step the value comes from, the parallel steps passed over)."""
        nearest = _nearest({a for a in candidates if name in self.provides[a]}, self.ancestors)
        if not nearest:
            return None, []
        ordered = sorted(nearest, key=self.order.index)
        return ordered[-1], ordered[:-1]


def _resolve(name: str, line: int, code: _Code, step: str, candidates: set[str],
             flow: _Flow, params: dict[str, ParamSpec], *, strict: bool = True
             ) -> InputSpec | None:
    """The input that gives `step` the name it reads. `strict`: a name found nowhere is an
    error (a name only a called function might read is not: the kernel would fail only if
    that code ran)."""
    src, passed_over = flow.source(name, candidates)
    if src is not None:
        if passed_over:
            others = ", ".join(f"'{o}'" for o in passed_over)
            warnings.warn(
                f"{code.where(line)}: step '{step}' reads '{name}' as step '{src}' left it; "
                f"{others} also assign{'s' if len(passed_over) == 1 else ''} or may change it "
                f"and run{'s' if len(passed_over) == 1 else ''} in parallel with '{src}', so "
                f"{'its' if len(passed_over) == 1 else 'their'} value is not seen here (as in a "
                "kernel running the cells top to bottom); order the steps with prev: if it "
                "matters", NotebookWarning, stacklevel=2)
        return InputSpec(name=name, step=src, output=name)
    if name in params:
        return InputSpec(name=name, param=name)
    if not strict:
        return None
    elsewhere = sorted((o for o in flow.binds if name in flow.binds[o] and o != step),
                       key=flow.order.index)
    if elsewhere:
        raise NotebookError(
            f"step '{step}' reads '{name}', which step '{elsewhere[0]}' defines, but "
            f"'{elsewhere[0]}' does not run before '{step}'", where=code.where(line),
            hint=f"add the tag prev:{elsewhere[0]} to the first cell of step '{step}'")
    raise NotebookError(
        f"name '{name}' is used in step '{step}' but not defined in any step before it, an "
        "imports/functions cell, or the pipeline parameters", where=code.where(line),
        hint="define it in an earlier step (and link the steps with prev:) or import it in "
        "the imports cell")


def _function_globals(step: str, loaded: dict[str, int], flow: _Flow,
                      functions: dict[str, dict[str, set[str]]],
                      prelude_functions: dict[str, set[str]]) -> list[tuple[str, int]]:
    """Global names that functions the step uses (received from earlier steps, or from the
    functions cell) read when called here, transitively, with the line of the use.

    In a kernel a function looks its globals up when it runs, so the step that calls it
    must hold them (engine/worker.py gives received functions the step's globals)."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    todo = sorted(loaded.items(), key=lambda kv: kv[1], reverse=True)
    while todo:
        name, line = todo.pop()
        if name in seen or name in functions[step]:
            continue  # the step's own functions: their reads are the step's reads already
        seen.add(name)
        src, _ = flow.source(name, flow.ancestors[step])
        if src is not None:
            free = functions[src].get(name, set())
        else:
            free = prelude_functions.get(name, set())
        for f in sorted(free):
            out.append((f, line))
            todo.append((f, line))
    return out


def _analyse(nb_path: Path, sections: _Sections, params: list[ParamSpec], prelude: list[Cell],
             metric_names: list[str]) -> list[StepSpec]:
    if not sections.steps:
        raise NotebookError("the notebook has no steps", where=str(nb_path),
                            hint="tag at least one code cell step:NAME (Kale's cell tags)")
    pmap = {p.name: p for p in params}
    codes = {n: _join(s.cells) for n, s in sections.steps.items()}
    for s in sections.steps.values():
        if not codes[s.name].tree.body:
            warnings.warn(f"{nb_path.name}, cell {s.first_cell}: step '{s.name}' has no code; "
                          "it runs and does nothing (Kale accepts it too)", NotebookWarning,
                          stacklevel=2)
    prelude_code = _join(prelude) if prelude else None
    prelude_defs = defined_names(prelude_code.tree) if prelude_code else set()
    binds = {n: defined_names(c.tree) for n, c in codes.items()}
    flow = _Flow(ancestors=_ancestors(sections.steps), order=list(sections.steps),
                 binds=binds, provides={n: set(b) for n, b in binds.items()})
    functions = {n: callables_free_names(c.tree, prelude_defs) for n, c in codes.items()}
    prelude_functions = callables_free_names(prelude_code.tree, set()) if prelude_code else {}
    # what each function may change among the globals it reads
    mutates = {n: callables_changed(c.tree, functions[n]) for n, c in codes.items()}
    prelude_mutates = (callables_changed(prelude_code.tree, prelude_functions)
                       if prelude_code else {})
    prelude_free = free_names(prelude_code.tree, set()) if prelude_code else []
    everywhere = set().union(*binds.values()) | set(pmap)
    for name, line in prelude_free:
        if name not in everywhere and not is_builtin(name):
            assert prelude_code is not None
            raise NotebookError(f"name '{name}' is used but defined nowhere",
                                where=prelude_code.where(line),
                                hint="import it in the imports cell or define it")
    prelude_params = sorted({n for n, _ in prelude_free if n in pmap})
    specs: dict[str, StepSpec] = {}
    for name in _topological(sections.steps):  # ancestors first: `provides` grows in order
        st = sections.steps[name]
        code = codes[name]
        found: dict[str, InputSpec | None] = {p: InputSpec(name=p, param=p)
                                              for p in prelude_params}
        for var, line in free_names(code.tree, prelude_defs):
            if var not in found:
                found[var] = _resolve(var, line, code, name, flow.ancestors[name], flow, pmap)
        loaded = loaded_names(code.tree)
        for var, line in _function_globals(name, loaded, flow, functions, prelude_functions):
            if var not in found and var not in prelude_defs:
                found[var] = _resolve(var, line, code, name, flow.ancestors[name], flow, pmap,
                                      strict=False)
        inputs = [i for i in found.values() if i is not None]
        changed = set(changed_names(code.tree))
        for fn in loaded:  # functions called here may change their globals
            src, _ = flow.source(fn, flow.ancestors[name])
            table = mutates[name] if fn in mutates[name] else \
                mutates[src] if src is not None else prelude_mutates
            changed |= table.get(fn, set())
        flow.provides[name] |= {i.name for i in inputs if i.step and i.name in changed}
        t = st.tags
        specs[name] = StepSpec(
            name=name, kind="cells", inputs=inputs, cells=st.cells, after=list(st.prev),
            limits=dict(t.limits), labels=dict(t.labels), annotations=dict(t.annotations),
            cache=t.cache if t.cache is not None else True, image=t.image,
            distributed=dict(t.distributed) if t.distributed else None,
            resources={"secrets": t.secrets} if t.secrets else {})
    if metric_names:
        everyone = set(sections.steps)
        inputs = []
        where = _Code(parse(""), [(1, sections.metrics[0])])
        for var in metric_names:
            inp = _resolve(var, 1, where, METRICS_STEP, everyone, flow, pmap)
            assert inp is not None
            inputs.append(inp)
        specs[METRICS_STEP] = StepSpec(name=METRICS_STEP, kind="metrics", inputs=inputs,
                                       cells=list(sections.metrics))
    for spec in specs.values():  # a value becomes an output of the step a descendant reads
        for i in spec.inputs:
            if i.step and i.output and i.output not in specs[i.step].outputs:
                specs[i.step].outputs.append(i.output)
    return list(specs.values())


def _kale_volumes(raw: Any, where: str) -> dict[str, str]:
    """Kale's `volumes` metadata -> {mount_point: volume name}.

    The panel writes one entry per PVC of the notebook's cluster (`type` clone, new, pvc or
    snap, `name` such as `data-8lbdjmzdh`, `mount_point` such as `/home/jovyan/data`, plus
    `size`, `size_type`, `snapshot`, `annotations`). Here each is a volume of the same name
    unless `kiln run --volume NAME=VOLUME` binds it to another; one that is not on this
    machine is left out of the run with a warning (engine/mounts.py)."""
    if not isinstance(raw, list):
        raise NotebookError("metadata 'volumes' must be a list", where=f"{where}: metadata volumes")
    out: dict[str, str] = {}
    example = '{"name": "data", "mount_point": "/home/jovyan/data", "type": "pvc"}'
    for i, v in enumerate(raw):
        at = f"{where}: metadata kubeflow_notebook.volumes[{i}]"
        if not isinstance(v, dict):
            raise NotebookError("each volume must be an object with name and mount_point",
                                where=at, hint=f"e.g. {example}")
        name, mount = v.get("name"), v.get("mount_point")
        if not isinstance(name, str) or not name.strip():
            raise NotebookError("the volume has no name", where=f"{at}.name",
                                hint=f"each volume needs a non-empty 'name', e.g. {example}")
        if not isinstance(mount, str) or not mount.strip():
            raise NotebookError(f"volume '{name}' has no mount point", where=f"{at}.mount_point",
                                hint=f"e.g. {example}")
        parts = mount.split("/")
        if not mount.startswith("/") or ".." in parts or "\0" in mount:
            raise NotebookError(f"volume '{name}' has mount point {mount!r}: a mount point is "
                                "an absolute path with no '..'", where=f"{at}.mount_point",
                                hint="e.g. /home/jovyan/data")
        key = mount.rstrip("/") or "/"
        if key in out:
            raise NotebookError(f"volumes '{out[key]}' and '{name}' share the mount point {mount}",
                                where=f"{at}.mount_point", hint="give each its own mount point")
        out[key] = name
    return out


def _apply_defaults(steps: list[StepSpec], meta: dict[str, Any], where: str,
                    explicit_cache: set[str]) -> None:
    """Notebook-wide settings: docker_image, enable_caching and Kale's steps_defaults tags."""
    # docker_image stays in the metadata: the KFP compile uses it after --image (a step's own
    # image: tag first), so it is not baked into the steps here.
    mounts = _kale_volumes(meta.get("volumes") or [], where)
    defaults = meta.get("steps_defaults") or []
    tags = parse_tags(defaults, where=f"{where}: metadata steps_defaults") if defaults else None
    for s in steps:
        if s.kind == "cells":  # Kale mounts every volume on every step
            s.volumes = {**mounts, **s.volumes}
        if meta.get("enable_caching") is False and s.name not in explicit_cache:
            s.cache = False
        if tags is not None:
            s.limits = {**tags.limits, **s.limits}
            s.labels = {**tags.labels, **s.labels}
            s.annotations = {**tags.annotations, **s.annotations}
