"""A notebook as the panel sees it, unsaved edits included: its pipeline's steps and graph,
or the first error with the cell (0-based, as JupyterLab counts) and line it is on."""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from kiln.errors import KilnError, UserError

# compiler errors say "NAME.ipynb, cell 5, line 2": cell numbers there count from 1
_WHERE = re.compile(r"cell (\d+)(?:, line (\d+))?")


def analyse(notebook: Any, *, name: str = "notebook.ipynb") -> dict[str, Any]:
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UserError("send the notebook as JSON with its cells", where="notebook",
                        hint='{"notebook": {"cells": [...], "metadata": {...}}}')
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).stem)[:100] or "notebook"
    from kiln.catalog.pipelines import graph
    from kiln.notebook.compiler import compile_notebook

    with tempfile.TemporaryDirectory(prefix="kiln-panel-") as tmp:
        path = Path(tmp) / f"{stem}.ipynb"
        path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                    **notebook}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                spec = compile_notebook(path)
            except KilnError as e:
                return {"ok": False, "error": _error(e, str(path)), "steps": [], "graph": None,
                        "warnings": [str(w.message) for w in caught]}
    data = spec.to_dict()
    return {"ok": True, "error": None, "pipeline": spec.name,
            "steps": [{"name": s.name, "after": s.upstream()} for s in spec.steps],
            "parameters": [p.name for p in spec.parameters], "graph": graph(data),
            "warnings": [str(w.message) for w in caught]}


def _error(e: KilnError, temp: str) -> dict[str, Any]:
    """The error as the panel shows it: the notebook's own name, never the temporary copy's
    path."""
    where = (e.where or "").replace(temp, Path(temp).name) or None
    m = _WHERE.search(where or "")
    return {"message": e.message.replace(temp, Path(temp).name), "where": where, "hint": e.hint,
            "cell": int(m.group(1)) - 1 if m else None,
            "line": int(m.group(2)) if m and m.group(2) else None}
