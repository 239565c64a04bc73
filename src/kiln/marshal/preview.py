"""A small, JSON-able look at a stored value for the dashboard: a DataFrame's head, an array's
shape and first rows, an image (PIL image, matplotlib figure, uint8 pixel array) as a PNG
thumbnail, an HTML document, a value's text. Never the whole thing: previews stay small."""

from __future__ import annotations

import json
from typing import Any

ROWS = 20
TEXT = 4000
THUMB = 512  # pixels on the long side of an image preview
HTML_MAX = 200_000


def _png(image: Any) -> dict[str, Any] | None:
    """A PIL image as a base64 PNG thumbnail (None without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    import base64
    import io

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    size = list(image.size)
    thumb = image.copy()
    thumb.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    thumb.convert("RGBA" if thumb.mode in ("RGBA", "LA", "P") else "RGB").save(buf, "PNG")
    return {"kind": "image", "width": size[0], "height": size[1],
            "png": base64.b64encode(buf.getvalue()).decode()}


def _image(value: Any) -> dict[str, Any] | None:
    """An image preview when `value` is one: a PIL image, a matplotlib figure, or a uint8
    array shaped (H, W), (H, W, 3) or (H, W, 4)."""
    mod = type(value).__module__
    if mod.startswith("PIL."):
        return _png(value)
    if mod.startswith("matplotlib.") and hasattr(value, "savefig"):
        import io

        buf = io.BytesIO()
        value.savefig(buf, format="png", dpi=80)
        try:
            from PIL import Image
        except ImportError:
            return None
        buf.seek(0)
        return _png(Image.open(buf))
    shape = getattr(value, "shape", None)
    if getattr(value, "dtype", None) is not None and str(value.dtype) == "uint8" and shape \
            and len(shape) in (2, 3) and min(shape[:2]) >= 8 and \
            (len(shape) == 2 or shape[2] in (3, 4)):
        return _png(value)
    return None


def preview(value: Any) -> dict[str, Any]:
    type_name = f"{type(value).__module__}.{type(value).__qualname__}"
    image = _image(value)
    if image is not None:
        return {**image, "type": type_name}
    if isinstance(value, str) and value.lstrip()[:15].lower().startswith(("<!doctype html",
                                                                          "<html")):
        return {"kind": "html", "type": type_name, "html": value[:HTML_MAX],
                "truncated": len(value) > HTML_MAX}
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
