"""What a user sees while a study runs: trials done, running and failed, the best so far."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from kiln.catalog.studies import TrialInfo
    from kiln.tune.config import Objective, StudyConfig

STATE_STYLE = {"running": "bold yellow", "complete": "green", "pruned": "cyan",
               "failed": "bold red"}


class StudyObserver:
    """Receives study events. The base class keeps the tallies and shows nothing."""

    def __init__(self) -> None:
        self.name = ""
        self.metric = ""
        self.objective: Objective | None = None
        self.total = 0
        self.rows: dict[int, dict[str, Any]] = {}
        self.best: tuple[float, int] | None = None
        self.started_at = time.monotonic()

    def study_started(self, name: str, study_id: str, config: StudyConfig,
                      previous: list[TrialInfo]) -> None:
        self.name, self.metric = name, config.objective.metric
        self.objective, self.total = config.objective, config.max_trials
        for t in previous:
            self.rows[t.number] = {"params": t.params, "state": t.state, "value": t.value,
                                   "error": t.error, "run": t.run_id}
            self._consider(t.state, t.value, t.number)

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        self.rows[number] = {"params": params, "state": "running", "value": None, "error": None,
                             "run": None}

    def trial_running(self, number: int, run_id: str) -> None:
        self.rows[number]["run"] = run_id

    def trial_finished(self, number: int, state: str, value: float | None, error: str | None,
                       run_id: str | None) -> None:
        self.rows[number].update(state=state, value=value, error=error, run=run_id)
        self._consider(state, value, number)

    def study_finished(self, status: str, error: str | None) -> None: ...

    def _consider(self, state: str, value: float | None, number: int) -> None:
        if state != "complete" or value is None:
            return
        # the best value; on a tie the earliest trial, whatever order trials finished in, as
        # the study's own record picks it (StudyInfo.best), so both name the same trial
        if self.best is None or (self.objective is not None
                                 and self.objective.better(value, self.best[0])) or \
                (value == self.best[0] and number < self.best[1]):
            self.best = (value, number)

    def counts(self) -> dict[str, int]:
        out = {"running": 0, "complete": 0, "pruned": 0, "failed": 0}
        for r in self.rows.values():
            out[r["state"]] = out.get(r["state"], 0) + 1
        return out

    def summary(self) -> str:
        c = self.counts()
        done = c["complete"] + c["pruned"] + c["failed"]
        best = (f"best {self.metric} = {self.best[0]:.6g} (trial {self.best[1]})"
                if self.best else "no result yet")
        return (f"study {self.name}: {done}/{self.total} trials done, {c['running']} running, "
                f"{c['pruned']} pruned, {c['failed']} failed; {best}; "
                f"{time.monotonic() - self.started_at:.0f}s")


class PlainStudyObserver(StudyObserver):
    """A line per finished trial, for logs and terminals that are not interactive."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(highlight=False, emoji=False)

    def study_started(self, name: str, study_id: str, config: StudyConfig,
                      previous: list[TrialInfo]) -> None:
        super().study_started(name, study_id, config, previous)
        resumed = f", resuming after {len(previous)} trials" if previous else ""
        self.console.print(f"study {name} ({study_id}): {config.max_trials} trials of "
                           f"{config.algorithm.name}, {config.parallel} at a time, "
                           f"{config.objective.direction} {config.objective.metric}{resumed}",
                           markup=False)

    def trial_finished(self, number: int, state: str, value: float | None, error: str | None,
                       run_id: str | None) -> None:
        super().trial_finished(number, state, value, error, run_id)
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in self.rows[number]["params"].items())
        what = f"{self.metric}={value:.6g}" if value is not None else (error or "")
        line = Text(f"trial {number:>3} ", style="bold")
        line.append(f"{state:<8}", style=STATE_STYLE.get(state, ""))
        line.append(f" {what}  [{params}]  run {run_id or '-'}")
        self.console.print(line)

    def study_finished(self, status: str, error: str | None) -> None:
        self.console.print(self.summary())
        if error:
            self.console.print(Text(f"{status}: ", style="bold red") + Text(error))


class LiveStudyObserver(StudyObserver):
    """A live table: one row per trial, the best highlighted, a summary line on top."""

    MAX_ROWS = 15

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(highlight=False, emoji=False)
        self.live: Live | None = None

    def study_started(self, name: str, study_id: str, config: StudyConfig,
                      previous: list[TrialInfo]) -> None:
        super().study_started(name, study_id, config, previous)
        self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        super().trial_started(number, params)
        self._refresh()

    def trial_running(self, number: int, run_id: str) -> None:
        super().trial_running(number, run_id)
        self._refresh()

    def trial_finished(self, number: int, state: str, value: float | None, error: str | None,
                       run_id: str | None) -> None:
        super().trial_finished(number, state, value, error, run_id)
        self._refresh()

    def study_finished(self, status: str, error: str | None) -> None:
        self._refresh()
        if self.live is not None:
            self.live.stop()
        if error:
            self.console.print(Text(f"{status}: ", style="bold red") + Text(error))

    def _render(self) -> Group:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("trial", "state", self.metric or "value", "parameters", "run"):
            table.add_column(col)
        numbers = sorted(self.rows)
        shown = numbers[-self.MAX_ROWS:]
        for n in shown:
            r = self.rows[n]
            is_best = self.best is not None and self.best[1] == n
            value = f"{r['value']:.6g}" if r["value"] is not None else (
                _short(r["error"]) if r["error"] else "")
            table.add_row(str(n) + (" ★" if is_best else ""),
                          Text(r["state"], style=STATE_STYLE.get(r["state"], "")),
                          value, ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items()),
                          (r["run"] or "")[:12], style="bold" if is_best else None)
        hidden = len(numbers) - len(shown)
        head = Text(self.summary() + (f" ({hidden} earlier trials not shown)" if hidden else ""))
        return Group(head, table)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _short(text: str, n: int = 50) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= n else line[: n - 1] + "…"
