"""A small, JSON-able look at a stored value for the dashboard: a DataFrame's head, an array's
shape and first rows, a value's text. Never the whole thing: previews stay under ~100 KB."""

from __future__ import annotations

import json
from typing import Any

ROWS = 20
TEXT = 4000


def preview(value: Any) -> dict[str, Any]:
    type_name = f"{type(value).__module__}.{type(value).__qualname__}"
    try:
        import pandas as pd

        if isinstance(value, pd.Series):
            value = value.to_frame()
        if isinstance(value, pd.DataFrame):
            head = value.head(ROWS)
            return {"kind": "table", "type": type_name, "shape": list(value.shape),
                    "columns": [str(c) for c in head.columns],
                    "rows": json.loads(head.to_json(orient="values", date_format="iso",
                                                    default_handler=str))}
    except ImportError:
        pass
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            out: dict[str, Any] = {"kind": "array", "type": type_name,
                                   "shape": list(value.shape), "dtype": str(value.dtype)}
            if value.ndim in (1, 2) and value.dtype.kind in "biufcU":
                rows = value[:ROWS] if value.ndim == 2 else value[:ROWS * 5]
                out["rows"] = json.loads(json.dumps(rows.tolist(), default=str))
            if value.dtype.kind in "biuf" and value.size:
                out["stats"] = {"min": float(np.nanmin(value)), "max": float(np.nanmax(value)),
                                "mean": float(np.nanmean(value))}
            return out
    except ImportError:
        pass
    if isinstance(value, (bool, int, float)) or value is None:
        return {"kind": "json", "type": type_name, "value": value}
    if isinstance(value, str):
        return {"kind": "text", "type": type_name, "text": value[:TEXT],
                "truncated": len(value) > TEXT}
    if isinstance(value, (bytes, bytearray)):
        return {"kind": "bytes", "type": type_name, "size": len(value)}
    if isinstance(value, (dict, list, tuple)):
        try:
            text = json.dumps(value, default=str, indent=1)
        except (TypeError, ValueError):
            text = repr(value)
        return {"kind": "text", "type": type_name, "text": text[:TEXT],
                "truncated": len(text) > TEXT}
    text = repr(value)
    return {"kind": "text", "type": type_name, "text": text[:TEXT], "truncated": len(text) > TEXT}
