"""Shared CLI output: human sizes, JSON, listings, and a Rich byte progress bar for long store
work."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def short_time(iso: str, *, seconds: bool = True) -> str:
    """'2026-11-23 15:36:46' (or without seconds) from the API's ISO time, '...T15:36:46.1Z'."""
    return iso[:19 if seconds else 16].replace("T", " ")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_listing(items: Sequence[Any], *, as_json: bool, columns: Sequence[str],
                  row: Callable[[Any], Sequence[str]], empty: str) -> None:
    """What an `ls` prints: each item (a dict, or a record's to_dict()) as JSON, or a table,
    or (with nothing to list) what to do to get something."""
    if as_json:
        print_json([x if isinstance(x, dict) else x.to_dict() for x in items])
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for col in columns:
        table.add_column(col)
    for x in items:
        table.add_row(*row(x))
    console().print(table if items else empty)


@contextmanager
def byte_progress(label: str, total: int | Callable[[], int] | None,
                  ) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (only on a terminal); yields a thread-safe `advance(bytes)`.
    `total` may be a function, called only when a bar is shown (sizing a folder costs a walk)."""
    if not sys.stderr.isatty():  # no bar to draw: skip importing Rich (~0.2 s on a cold cache)
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True, emoji=False)
    if not console.is_terminal:
        yield lambda n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(label, total=total() if callable(total) else total)
        yield lambda n: bar.advance(task, n)


def folder_size(path: str) -> int:
    import os

    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def console(*, stderr: bool = False) -> Any:
    """The CLI's Rich console: no emoji codes (`step:a:b` stays as written) and no guessing
    at highlights; markup only where our own strings use it, with user text through lit().
    Piped or redirected (no terminal, no COLUMNS), nothing is cut or wrapped at 80 columns:
    a table is as wide as its longest values, for grep and for the next program."""
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, emoji=False, highlight=False, width=100_000 if wide else None)


def lit(value: object) -> str:
    """`value` as literal text inside a Rich markup string: `[/tmp]`, `list[int]` and
    `[epoch 3/10]` print as written."""
    from rich.markup import escape

    return escape(str(value))
