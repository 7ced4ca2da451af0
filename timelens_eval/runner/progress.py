"""The run's progress display: done/total, rate, ETA, errors and cost so far."""

from __future__ import annotations

import time
from typing import Any, Literal

__all__ = ["RunProgress", "ProgressMode"]


ProgressMode = Literal["off", "bar", "lines"]


class RunProgress:
    """Progress of one run: a rich bar (``"bar"``), a line on stderr every
    ``interval`` seconds and at the end (``"lines"``, for logs of batch jobs), or
    nothing (``"off"``).

    Counts samples finished in this process (for the rate and ETA) apart from samples
    resumed from an earlier run (which only move the bar). The rate is measured from the
    first sample this process finishes, not from the start: loading a model, starting
    the decoding workers and the first request's warm-up would otherwise make the first
    ETA many times too long.
    """

    def __init__(
        self,
        label: str,
        total: int,
        done: int,
        *,
        mode: ProgressMode | bool,
        interval: float = 30.0,
    ) -> None:
        self.label, self.total, self.done = label, total, done
        self.errors, self.cost = 0, 0.0
        self._started = time.perf_counter()
        self._first: float | None = None
        self._fresh = 0
        self._progress: Any = None
        self.mode: ProgressMode = "bar" if mode is True else "off" if mode is False else mode
        self._interval = interval
        self._last_line = self._started
        if self.mode != "bar":
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("{task.fields[cost]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(
            label, total=total, completed=done, rate="-", eta="-", errors=0, cost=""
        )
        self._progress.start()

    @property
    def rate(self) -> float:
        """Samples per second finished by this process since its first one (0 until two
        are done)."""
        if self._first is None or self._fresh < 2:
            return 0.0
        elapsed = time.perf_counter() - self._first
        return (self._fresh - 1) / elapsed if elapsed > 0 else 0.0

    def advance(self, *, error: bool, cost: float | None) -> None:
        """One more sample finished."""
        self.done += 1
        self._fresh += 1
        if self._first is None:
            self._first = time.perf_counter()
        self.errors += int(error)
        self.cost += cost or 0.0
        if self.mode == "lines":
            now = time.perf_counter()
            if now - self._last_line >= self._interval:
                self._last_line = now
                self._write_line()
            return
        if self._progress is None:
            return
        rate = self.rate
        left = self.total - self.done
        eta = _clock(left / rate) if rate > 0 else "-"
        self._progress.update(
            self._task,
            completed=self.done,
            rate=f"{rate:.1f}/s",
            eta=eta,
            errors=self.errors,
            cost=f"${self.cost:.4f}" if self.cost else "",
        )

    def line(self) -> str:
        """The progress as one line of text."""
        rate = self.rate
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "-"
        cost = f", ${self.cost:.4f}" if self.cost else ""
        return (
            f"{self.label}: {self.done}/{self.total} samples, {rate:.1f}/s, ETA {eta}, "
            f"{self.errors} errors{cost}"
        )

    def _write_line(self) -> None:
        import sys

        sys.stderr.write(self.line() + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        """Stop refreshing (leaves the last state on screen)."""
        if self.mode == "lines" and self._fresh:
            self._write_line()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
