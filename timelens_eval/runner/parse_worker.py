"""Parsing answers in a separate process, under a time cap per answer.

The parser's regular expressions run in C and hold the interpreter lock while they
run. They are linear on every answer shape found so far (a long run of digits once made
them backtrack for minutes), but the answers come from servers nobody here controls, and
one answer that froze the parser in the runner's own process would freeze every request
in flight, or stall ``leaderboard validate``. So answers go to one child process
(started on first use, shared by the whole process); when one answer takes longer than
its ``timeout`` the child is killed and replaced, and that answer's result is ``None``
("not parsed in time"). Results are exactly :func:`~timelens_eval.parsing.parse_spans`'s.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Sequence
from typing import Any

from timelens_eval.parsing import ParsedAnswer
from timelens_eval.protocol import ParseOptions

__all__ = ["PARSE_TIMEOUT_S", "ParserError", "parse_answers", "ParseWorker", "BatchedParser"]

PARSE_TIMEOUT_S = 10.0
"""Default cap (seconds) on parsing one answer."""

_START_TIMEOUT_S = 120.0  # a loaded machine may take long to start the child

Item = tuple[str, float | None]
"""An answer and the video duration it is checked against."""


class ParserError(RuntimeError):
    """The parse process failed (it could not start, died, or the parser raised)."""


def _serve(conn: Any) -> None:
    """The child's loop: parse every answer of each batch, sending each result back."""
    from timelens_eval.parsing import parse_spans

    conn.send("ready")  # the caps count from here, not from the process start
    while True:
        try:
            options, tolerance, items = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        for text, duration in items:
            try:
                result: Any = parse_spans(
                    text, duration=duration, options=options, out_of_range_tolerance=tolerance
                )
            except Exception as exc:  # a parser bug: reported, the child goes on
                result = f"{type(exc).__name__}: {exc}"
            conn.send(result)


class ParseWorker:
    """One child process that parses answers (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None
        self._pid = os.getpid()
        self.restarts = 0
        """Children killed for taking too long."""

    def _ensure(self) -> None:
        if self._pid != os.getpid():  # inherited through fork: not ours to talk to
            self._process = self._conn = None
            self._pid = os.getpid()
        if self._process is not None and self._process.is_alive():
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        parent, child = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]  # a concrete context
            target=_serve, args=(child,), daemon=True, name="timelens-eval-parse"
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        try:
            ready = parent.poll(_START_TIMEOUT_S) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._kill()
            raise ParserError("the answer-parsing process did not start")

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
            self._conn.close()
        self._process = self._conn = None

    def parse_many(
        self,
        items: Sequence[Item],
        options: ParseOptions,
        tolerance: float = 0.0,
        timeout: float = PARSE_TIMEOUT_S,
    ) -> list[ParsedAnswer | None]:
        """``parse_spans`` of each ``(text, duration)``; ``None`` where one took longer
        than ``timeout`` seconds. Raises :class:`ParserError` if the parser itself failed."""
        out: list[ParsedAnswer | None] = []
        with self._lock:
            try:
                while len(out) < len(items):
                    self._ensure()
                    self._conn.send((options, tolerance, list(items[len(out) :])))
                    for _ in range(len(out), len(items)):
                        if not self._conn.poll(timeout):
                            self._kill()  # the rest of this batch goes to a fresh child
                            self.restarts += 1
                            out.append(None)
                            break
                        try:
                            result = self._conn.recv()
                        except (EOFError, OSError):
                            raise ParserError("the answer-parsing process stopped") from None
                        if isinstance(result, str):
                            raise ParserError(f"the answer parser failed: {result}")
                        out.append(result)
            except BaseException:
                self._kill()  # never leave unread results for the next caller
                raise
        return out

    def close(self) -> None:
        """Stop the child."""
        with self._lock:
            self._kill()


_SHARED: ParseWorker | None = None
_SHARED_LOCK = threading.Lock()


def parse_answers(
    items: Sequence[Item],
    options: ParseOptions,
    tolerance: float = 0.0,
    timeout: float = PARSE_TIMEOUT_S,
) -> list[ParsedAnswer | None]:
    """:meth:`ParseWorker.parse_many` on the process's shared worker."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ParseWorker()
        worker = _SHARED
    return worker.parse_many(items, options, tolerance, timeout)


class BatchedParser:
    """Parses answers for many concurrent tasks of one event loop: the answers that
    arrive while one batch is being parsed go to the parse process together, in one
    call made from a thread, so the loop never waits on the parser and the cost of a
    round trip is shared."""

    def __init__(self, options: ParseOptions, tolerance: float, timeout: float) -> None:
        self.options, self.tolerance, self.timeout = options, tolerance, timeout
        self._pending: list[tuple[Item, asyncio.Future[ParsedAnswer | None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def parse(self, text: str, duration: float | None) -> ParsedAnswer | None:
        """``parse_spans`` of one answer, or None when it took longer than the timeout."""
        future: asyncio.Future[ParsedAnswer | None] = asyncio.get_running_loop().create_future()
        self._pending.append(((text, duration), future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            items = [item for item, _ in batch]
            try:
                results = await asyncio.to_thread(
                    parse_answers, items, self.options, self.tolerance, self.timeout
                )
            except Exception as exc:  # every waiter of the batch learns of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
