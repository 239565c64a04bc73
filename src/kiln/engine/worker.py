"""What runs inside a step's own process: load inputs, run the code, save outputs.

The worker is forked from a warm server process that already imported kiln (see pool.py),
so a step starts in milliseconds. It reports back through files only: its log (stdout and
stderr), a metrics file it appends to, and a result manifest written atomically at the end.
"""

from __future__ import annotations

import builtins
import importlib
import json
import linecache
import os
import sys
import sysconfig
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.engine import mountpaths
from kiln.errors import KaleSDKWarning
from kiln.files import atomic_path, import_file, loaded_from
from kiln.marshal.registry import ArtifactRef, default_registry
from kiln.sdk import context
from kiln.store.folder import FolderStore

_KILN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # src/kiln
_LIBRARY_DIRS = tuple({sysconfig.get_path(p) for p in ("stdlib", "platstdlib", "purelib",
                                                        "platlib")})


def write_json_atomic(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data))


def _redirect_output(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass


def _display(*objs: Any, **_: Any) -> None:
    """Jupyter's display() for code that runs outside Jupyter: print a text form."""
    for o in objs:
        print(o.to_string() if hasattr(o, "to_string") else repr(o))


def _exec_cells(cells: list[dict[str, Any]], ns: dict[str, Any]) -> None:
    for c in cells:
        src = c["source"]
        # Register the source so tracebacks can show the cell's lines.
        linecache.cache[c["filename"]] = (len(src), None, src.splitlines(True), c["filename"])
        exec(compile(src, c["filename"], "exec"), ns)


def _load_module(fn: dict[str, Any]) -> types.ModuleType:
    import _kilnflow_kale

    _kilnflow_kale.install()  # modules written for Kale's SDK import kale.sdk
    file = fn["file"]
    sys.path.insert(0, os.path.dirname(file))
    name = fn["module"]
    # said once when the pipeline was loaded; not again in every step's log
    warnings.filterwarnings("ignore", category=KaleSDKWarning)
    if name != "__main__":
        try:
            mod = importlib.import_module(name)
            if loaded_from(mod, file):
                return mod
        except ImportError:
            pass
    # A script run as __main__, or a module not importable by name: load it from its file
    # under a private name, so its `if __name__ == "__main__":` block does not run again.
    mod = import_file(file, "__kiln_main__" if name == "__main__" else name)
    import cloudpickle

    # Classes defined there must travel by value: the next process cannot import them.
    cloudpickle.register_pickle_by_value(mod)
    return mod


def _call_function(task: dict[str, Any], mod: types.ModuleType,
                   values: dict[str, Any]) -> dict[str, Any]:
    obj: Any = mod
    for part in task["function"]["qualname"].split("."):
        obj = getattr(obj, part)
    fn = getattr(obj, "fn", obj)  # a StepFunction wraps the user's function
    result = fn(**values)
    outputs: list[str] = task["outputs"]
    if not outputs:
        return {}
    if len(outputs) == 1:
        return {outputs[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(outputs):
        raise TypeError(f"step '{task['step']}' declares {len(outputs)} outputs "
                        f"({', '.join(outputs)}) but returned {type(result).__name__}"
                        + (f" of length {len(result)}" if isinstance(result, (tuple, list))
                           else ""))
    return dict(zip(outputs, result, strict=True))


def _with_globals(fn: types.FunctionType, ns: dict[str, Any]) -> types.FunctionType:
    new = types.FunctionType(fn.__code__, ns, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    for attr in ("__qualname__", "__doc__", "__module__", "__annotations__"):
        setattr(new, attr, getattr(fn, attr))
    return new


def _adopt(value: Any, ns: dict[str, Any], done: set[int]) -> Any:
    """A function (or class) an earlier step defined in its cells, made to look its globals
    up in this step's namespace, as it would in a notebook kernel: after `x = 7`, a `foo`
    defined beside `x = 5` reads 7. cloudpickle brought it with a frozen copy of the
    globals it used; those copies are dropped here."""
    if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
        return _with_globals(value, ns)
    cls = value if isinstance(value, type) else type(value)
    if cls.__module__ == "__main__" and id(cls) not in done:
        done.add(id(cls))  # methods of a class defined in cells, for the class or an instance
        for attr, member in list(vars(cls).items()):
            if isinstance(member, types.FunctionType):
                setattr(cls, attr, _with_globals(member, ns))
            elif isinstance(member, (staticmethod, classmethod)) and \
                    isinstance(member.__func__, types.FunctionType):
                setattr(cls, attr, type(member)(_with_globals(member.__func__, ns)))
            elif isinstance(member, property):
                parts: list[Any] = [_with_globals(f, ns) if isinstance(f, types.FunctionType)
                                    else f for f in (member.fget, member.fset, member.fdel)]
                setattr(cls, attr, property(parts[0], parts[1], parts[2], member.__doc__))
    return value


def _run_cells(task: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins,
                          "display": _display}
    ns.update(task["params"])  # every pipeline parameter is visible, as in Kale
    done: set[int] = set()
    ns.update({k: _adopt(v, ns, done) for k, v in values.items()})
    _exec_cells(task["prelude"], ns)
    _exec_cells(task["cells"], ns)
    missing = [o for o in task["outputs"] if o not in ns]
    if missing:
        raise NameError(f"step '{task['step']}' did not define {', '.join(map(repr, missing))}, "
                        "which a later step reads (is it only assigned under a condition?)")
    return {o: ns[o] for o in task["outputs"]}


def _log_metrics(values: dict[str, Any]) -> None:
    import numbers

    for name, v in values.items():
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            context.log_metric(name, float(v))
        elif hasattr(v, "item") and getattr(v, "size", 0) == 1:  # numpy scalars, 1-element
            context.log_metric(name, float(v.item()))
        else:
            print(f"metric '{name}' is a {type(v).__name__}, not a number; not recorded")


def user_traceback(exc: BaseException) -> tuple[str, str | None]:
    """The traceback without kilnflow's own frames, and where in user code it happened."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_KILN_DIR)]
    # Point at the user's own code (a notebook cell or their module), not inside a library.
    own = [f for f in frames if not f.filename.startswith(_LIBRARY_DIRS)]
    last = own[-1] if own else (frames[-1] if frames else None)
    where = f"{last.filename}, line {last.lineno}" if last else None
    text = "Traceback (most recent call last):\n" if frames else ""
    text += "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text, where


def compute(task: dict[str, Any], load_values: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a step's code on its input values and return its outputs by name. The local
    engine and the Kubeflow executor both call this; only where values live differs."""
    mod = None
    if task["kind"] == "function":
        mod = _load_module(task["function"])  # before inputs: their classes may live there
    values = load_values()
    if mod is not None:
        return _call_function(task, mod, values)
    if task["kind"] == "metrics":
        _log_metrics(values)
        return {}
    return _run_cells(task, values)


def run_task(task: dict[str, Any]) -> None:
    """Entry point in the step's process. Exit code 0 means the result file says success."""
    result_path = Path(task["result_path"])
    _redirect_output(task["log_path"])
    os.environ.clear()
    os.environ.update(task["env"])
    os.environ["KILN_RUN_ID"] = task["run_id"]
    os.environ["KILN_STEP"] = task["step"]
    if task.get("workdir"):
        os.chdir(task["workdir"])
        sys.path.insert(0, task["workdir"])
    ctx = context.StepContext(task["run_id"], task["step"], Path(task["metrics_path"]))
    context.set_current(ctx)
    store = FolderStore(task["store_root"])
    missing = json.loads(os.environ.get("KILN_MISSING_VOLUMES") or "{}")
    if task["kind"] == "cells":  # Kale's mount points, as the notebook wrote them
        mountpaths.install(json.loads(os.environ.get("KILN_VOLUMES") or "{}"), missing)

    def load_values() -> dict[str, Any]:
        values: dict[str, Any] = dict(task["constants"])
        for name, ref in task["inputs"].items():
            values[name] = default_registry.load(ArtifactRef.from_dict(ref), store)
        return values

    try:
        outputs = compute(task, load_values)
        if task.get("rank", 0):
            outputs = {}  # a distributed step keeps rank 0's outputs only
        refs = {}
        for name, value in outputs.items():
            what = f"'{name}' of step '{task['step']}'"
            refs[name] = default_registry.save(value, store, what=what).to_dict()
        write_json_atomic(result_path, {"status": "succeeded", "outputs": refs})
    except BaseException as e:  # noqa: BLE001 - everything a step raises is reported
        text, where = user_traceback(e)
        sys.stderr.write(text)
        sys.stderr.flush()
        message = "".join(traceback.format_exception_only(type(e), e)).strip()
        hint = mountpaths.explain(message, missing)
        if hint and hint not in message:
            message += f" ({hint})"
        write_json_atomic(result_path, {"status": "failed", "error": message, "where": where,
                                        "traceback": text})
        sys.stdout.flush()
        sys.exit(1)
    finally:
        context.set_current(None)
