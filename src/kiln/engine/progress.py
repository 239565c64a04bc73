"""What a user sees while a run goes: step states, elapsed times and each step's log lines."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

STATE_STYLE = {
    "queued": "dim",
    "running": "bold yellow",
    "cached": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "dim",
    "cancelled": "magenta",
    "retrying": "yellow",
}


class Observer:
    """Receives run events from the engine. The base class ignores them all."""

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None: ...

    def state(self, step: str, state: str, detail: str = "") -> None: ...

    def log(self, step: str, line: str) -> None: ...

    def metric(self, step: str, name: str, value: float, index: int | None) -> None:
        """A metric a running step just logged (tuning watches these to stop trials early)."""

    def stop_reason(self) -> str | None:
        """Non-empty to cancel the run now (a pruned trial, a stopped study)."""
        return None

    def finished(self, status: str) -> None: ...


class PlainObserver(Observer):
    """Line by line, for logs and terminals that are not interactive."""

    def __init__(self, console: Console | None = None, *, show_logs: bool = True) -> None:
        self.console = console or Console(highlight=False, emoji=False)
        self.show_logs = show_logs
        self.width = 8

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        self.width = max((len(s) for s in steps), default=8)
        self.console.print(f"run {run_id} of pipeline {pipeline}: {len(steps)} steps",
                           markup=False)

    def state(self, step: str, state: str, detail: str = "") -> None:
        if state == "queued":
            return
        text = Text(f"{step:<{self.width}} ", style="bold")
        text.append(state, style=STATE_STYLE.get(state, ""))
        if detail:
            text.append(f" {detail}")
        self.console.print(text)

    def log(self, step: str, line: str) -> None:
        if self.show_logs:
            self.console.print(Text(f"{step:<{self.width}} | ", style="dim") + Text(line))


class LiveObserver(PlainObserver):
    """A Rich live table of steps under the streaming logs."""

    def __init__(self, console: Console | None = None, *, show_logs: bool = True) -> None:
        super().__init__(console, show_logs=show_logs)
        self.states: dict[str, tuple[str, float, float | None]] = {}
        self.live: Live | None = None
        self.title = ""

    def _render(self) -> Group:
        table = Table(title=self.title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("step")
        table.add_column("state")
        table.add_column("time", justify="right")
        now = time.monotonic()
        for step, (state, start, end) in self.states.items():
            elapsed = "" if state in ("queued", "skipped") else f"{(end or now) - start:.1f}s"
            table.add_row(step, Text(state, style=STATE_STYLE.get(state, "")), elapsed)
        return Group(table)

    def started(self, run_id: str, pipeline: str, steps: list[str]) -> None:
        super().started(run_id, pipeline, steps)
        self.title = f"{pipeline} · run {run_id}"
        self.states = {s: ("queued", time.monotonic(), None) for s in steps}
        self.live = Live(get_renderable=self._render, console=self.console,
                         refresh_per_second=8, transient=False)
        self.live.start()

    def state(self, step: str, state: str, detail: str = "") -> None:
        _, start, _ = self.states.get(step, ("", time.monotonic(), None))
        now = time.monotonic()
        if state in ("running", "retrying"):
            self.states[step] = (state, now, None)
        else:
            self.states[step] = (state, start, now)
        if state in ("failed",) and detail:
            self.console.print(Text(f"{step}: {detail}", style="red"))

    def finished(self, status: str) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
