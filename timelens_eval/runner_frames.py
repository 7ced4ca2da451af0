"""The runner's decoding stage: frames sampled and prompts built in worker processes.

Workers are started through ``forkserver`` (never a plain ``fork`` of a process that
already runs threads). A worker never raises: a bad video comes back as a
:class:`PrepareFailure`, which the runner records for that sample.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from timelens_eval.messages import PromptMessage
from timelens_eval.spans import Span
from timelens_eval.video.types import FrameSpec

__all__ = ["PrepareJob", "PrepareFailure", "Prepared", "prepare_message", "make_pool"]


@dataclass(frozen=True)
class PrepareJob:
    """What a worker needs to build one sample's prompt."""

    video: Path
    query: str
    duration: float
    clip: Span | None
    frames: FrameSpec
    template: str
    encoding: str


@dataclass(frozen=True)
class PrepareFailure:
    """A sample whose video could not be decoded (recorded as an error)."""

    message: str


@dataclass(frozen=True)
class Prepared:
    """A built prompt and the seconds the worker spent on it."""

    message: PromptMessage
    seconds: float


def prepare_message(job: PrepareJob) -> Prepared | PrepareFailure:
    """Sample frames and build the prompt (runs in a worker process)."""
    from timelens_eval.errors import TimelensError
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.sampler import sample_frames

    started = time.perf_counter()
    try:
        frames = sample_frames(job.video, job.frames, clip=job.clip, duration_hint=job.duration)
        message = build_prompt(job.query, frames, job.template, job.encoding, job.duration)
    except TimelensError as exc:
        return PrepareFailure(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a decoder crash must not take the run down
        return PrepareFailure(f"decoding failed: {type(exc).__name__}: {exc}")
    return Prepared(message, time.perf_counter() - started)


def _warm_up() -> None:
    """Import the decoding stack once per worker, before the first sample."""
    try:
        import timelens_eval.prompts  # noqa: F401
        import timelens_eval.video.sampler  # noqa: F401
    except ImportError:  # reported per sample by prepare_message
        pass


def default_workers() -> int:
    """Decoding workers: one per CPU, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def make_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for :func:`prepare_message`."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    return ProcessPoolExecutor(
        max_workers=workers or default_workers(), mp_context=context, initializer=_warm_up
    )
