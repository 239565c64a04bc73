"""Cell source as Python: IPython shell and magic lines are dropped (with a warning), and
line numbers are kept so errors still point at the right line of the cell."""

from __future__ import annotations

import re

# Cell magics whose body is still Python: we drop only the magic line itself.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
_LINE_MAGIC = re.compile(r"^\s*(%|!)")
_ASSIGNED_SHELL = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(%|!)")
_HELP = re.compile(r"^\s*[A-Za-z_][\w.]*\?\??\s*$|^\s*\?\??[A-Za-z_]")


def clean_source(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Return the cell's code with non-Python lines blanked, and (line, text) of each dropped.

    Blanking (instead of deleting) keeps line numbers equal to the notebook's.
    """
    lines = source.splitlines()
    dropped: list[tuple[int, str]] = []
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()[2:].split()[0] if lines[0].strip()[2:] else ""
        dropped.append((1, lines[0]))
        if magic in _PYTHON_CELL_MAGICS:
            lines[0] = ""
        else:  # %%bash, %%html, %%writefile ...: the whole cell is not Python
            for i in range(1, len(lines)):
                if lines[i].strip():
                    dropped.append((i + 1, lines[i]))
            return "\n" * (len(lines) - 1), dropped
    out = []
    continuing = False  # a magic line ending in a backslash continues on the next line
    for i, line in enumerate(lines):
        if continuing or _LINE_MAGIC.match(line) or _ASSIGNED_SHELL.match(line) or \
                _HELP.match(line):
            dropped.append((i + 1, line))
            continuing = line.rstrip().endswith("\\")
            # Keep indentation with `pass` so a magic inside a block leaves valid Python.
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass" if indent else "")
            continue
        out.append(line)
    return "\n".join(out), dropped
