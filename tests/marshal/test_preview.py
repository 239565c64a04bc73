"""Previews the dashboard shows for a stored value: tables, arrays, images, HTML, text."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest

from kiln.marshal.preview import THUMB, preview


def _png_size(p: dict) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(p["png"]))).size


def test_tables_and_arrays():
    p = preview(pd.DataFrame({"a": range(50), "b": ["x"] * 50}))
    assert p["kind"] == "table" and p["shape"] == [50, 2] and len(p["rows"]) == 20
    p = preview(np.arange(12.0).reshape(3, 4))
    assert p["kind"] == "array" and p["stats"]["max"] == 11.0


def test_images_become_png_thumbnails():
    pytest.importorskip("PIL")
    pixels = np.zeros((1000, 600, 3), dtype=np.uint8)
    p = preview(pixels)
    assert p["kind"] == "image" and (p["width"], p["height"]) == (600, 1000)
    assert max(_png_size(p)) == THUMB
    from PIL import Image

    assert preview(Image.new("L", (40, 30)))["kind"] == "image"
    assert preview(np.zeros((4, 4), dtype=np.uint8))["kind"] == "array"  # too small: data


def test_matplotlib_figures_are_drawn():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    p = preview(fig)
    plt.close(fig)
    assert p["kind"] == "image" and p["width"] > 100


def test_html_documents_and_text():
    assert preview("<!DOCTYPE html><html><body>hi</body></html>")["kind"] == "html"
    assert preview("<b>a fragment</b> is text")["kind"] == "text"
    assert preview("x" * 10_000)["truncated"] is True
