"""Jupyter notebooks with Kale's cell tags become PipelineSpecs."""

from kiln.notebook.compiler import METRICS_STEP, NotebookWarning, compile_notebook, read_notebook

__all__ = ["METRICS_STEP", "NotebookWarning", "compile_notebook", "read_notebook"]
