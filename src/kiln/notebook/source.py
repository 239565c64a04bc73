"""Cell source as Python: IPython shell and magic lines are dropped (with a warning), and
line numbers are kept so errors still point at the right line of the cell."""

from __future__ import annotations

import re
import shlex

# Cell magics whose body is still Python: we drop only the magic line itself.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "mprun",
                       "snakeviz", "heat", "pixie_debugger"}
# Cell magics that write their body to a file.
_WRITEFILE = {"writefile", "file"}
_LINE_MAGIC = re.compile(r"^\s*(%|!)")
_ASSIGNED_SHELL = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(%|!)")
_HELP = re.compile(r"^\s*[A-Za-z_][\w.]*\?\??\s*$|^\s*\?\??[A-Za-z_]")


def clean_source(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Return the cell's code with non-Python lines blanked, and (line, what happened) for
    each line dropped or rewritten.

    Blanking (instead of deleting) keeps line numbers equal to the notebook's.
    """
    lines = source.splitlines()
    notes: list[tuple[int, str]] = []
    if lines and lines[0].lstrip().startswith("%%"):
        words = lines[0].strip()[2:].split(None, 1)
        magic = words[0] if words else ""
        if magic in _PYTHON_CELL_MAGICS:
            notes.append((1, f"dropped the cell magic line '{lines[0].strip()}'; the body runs "
                             "as Python"))
            lines[0] = ""
        elif magic in _WRITEFILE:
            return _writefile(lines, words[1] if len(words) > 1 else "", notes)
        else:  # %%bash, %%html, %%sql ...: the whole cell is not Python
            notes.append((1, f"dropped the cell: its magic '%%{magic}' runs no Python, so "
                             f"its {len(lines) - 1} line(s) do not run in the pipeline"))
            return "\n" * (len(lines) - 1), notes
    out = []
    continuing = False  # a magic line ending in a backslash continues on the next line
    for i, line in enumerate(lines):
        if continuing or _LINE_MAGIC.match(line) or _ASSIGNED_SHELL.match(line) or \
                _HELP.match(line):
            notes.append((i + 1, f"dropped non-Python line: {line.strip()}"))
            continuing = line.rstrip().endswith("\\")
            # Keep indentation with `pass` so a magic inside a block leaves valid Python.
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass" if indent else "")
            continue
        out.append(line)
    return "\n".join(out), notes


def _writefile(lines: list[str], args: str, notes: list[tuple[int, str]]
               ) -> tuple[str, list[tuple[int, str]]]:
    """`%%writefile [-a] PATH`: the step writes the body to PATH (relative to the notebook's
    folder, the step's working directory), as the kernel did when the cell ran."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = []
    append = any(w in ("-a", "--append") for w in words)
    paths = [w for w in words if not w.startswith("-")]
    if len(paths) != 1:
        notes.append((1, f"dropped the cell: '{lines[0].strip()}' names no single file to "
                         "write"))
        return "\n" * (len(lines) - 1), notes
    body = "\n".join(lines[1:]) + "\n"
    mode = "a" if append else "w"
    code = (f"with open({paths[0]!r}, {mode!r}, encoding='utf-8') as __kiln_writefile: "
            f"__kiln_writefile.write({body!r})")
    notes.append((1, f"the cell magic '{lines[0].strip()}' becomes Python: the step "
                     f"{'appends' if append else 'writes'} the cell's body to {paths[0]}"))
    return code + "\n" * (len(lines) - 1), notes
