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
from dataclasses import dataclass, replace
from pathlib import Path

from timelens_eval.messages import ImagePart, PromptMessage
from timelens_eval.spans import Span
from timelens_eval.video.types import FrameSpec

__all__ = [
    "PrepareJob",
    "PrepareFailure",
    "Prepared",
    "prepare_message",
    "make_pool",
    "free_orphaned_blocks",
]


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
    owner: int = 0
    """Process id of the run; names the shared-memory blocks it must free."""


@dataclass(frozen=True)
class PrepareFailure:
    """A sample whose video could not be decoded (recorded as an error)."""

    message: str


@dataclass(frozen=True)
class Prepared:
    """A built prompt whose frames wait in shared memory, and the worker's seconds.

    Frames are large (tens of MB a sample); sending them through the pool's pipe would
    make the parent's result thread the bottleneck. The worker copies them into one
    shared-memory block instead, and :meth:`take` copies them out once and frees it.
    """

    message: PromptMessage
    """The prompt, with empty placeholders where the frames go."""
    seconds: float
    block: str | None
    """Name of the shared-memory block (None when the prompt has no frames)."""
    layout: tuple[tuple[int, tuple[int, ...]], ...]
    """``(offset, shape)`` of each frame (uint8) in the block, in prompt order."""

    def take(self) -> PromptMessage:
        """The prompt with its frames (call once: the block is freed)."""
        if self.block is None:
            return self.message
        import numpy as np

        shm = _attach(self.block)
        try:
            images = [
                np.frombuffer(shm.buf, np.uint8, int(np.prod(shape)), offset).reshape(shape).copy()
                for offset, shape in self.layout
            ]
        finally:
            shm.close()
            shm.unlink()
        it = iter(images)
        parts = tuple(
            replace(p, image=next(it)) if isinstance(p, ImagePart) else p
            for p in self.message.parts
        )
        return replace(self.message, parts=parts)

    def discard(self) -> None:
        """Free the block without reading it (a cancelled sample)."""
        if self.block is not None:
            try:
                shm = _attach(self.block)
            except FileNotFoundError:
                return
            shm.close()
            shm.unlink()


def _attach(name: str):  # noqa: ANN202
    from multiprocessing import shared_memory

    return shared_memory.SharedMemory(name=name)


_BLOCK_PREFIX = "tle_"


def _block_name(owner: int) -> str:
    import secrets

    return f"{_BLOCK_PREFIX}{owner}_{secrets.token_hex(6)}"


def free_orphaned_blocks(folder: Path = Path("/dev/shm")) -> int:
    """Unlink frame blocks left by runs that were killed (their process is gone).

    A run killed with SIGKILL cannot free the frames it had decoded ahead; the next
    run frees them. Returns the number of blocks removed.
    """
    removed = 0
    try:
        entries = list(folder.glob(f"{_BLOCK_PREFIX}*_*"))
    except OSError:
        return 0
    for entry in entries:
        owner = entry.name[len(_BLOCK_PREFIX) :].split("_", 1)[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        try:
            entry.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _to_shared(message: PromptMessage, seconds: float, owner: int) -> Prepared:
    """Move the frames of ``message`` into one shared-memory block (worker side)."""
    from multiprocessing import resource_tracker, shared_memory

    import numpy as np

    images = message.images
    if not images:
        return Prepared(message, seconds, None, ())
    if not _alive(owner):  # the run was killed while this frame was decoded
        raise _OwnerGone
    arrays = [np.ascontiguousarray(p.image, dtype=np.uint8) for p in images]
    total = sum(a.nbytes for a in arrays)
    shm = shared_memory.SharedMemory(name=_block_name(owner), create=True, size=max(total, 1))
    # The parent frees the block; this worker's tracker must not unlink it at exit.
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    layout = []
    offset = 0
    buffer = shm.buf
    assert buffer is not None
    for array in arrays:
        buffer[offset : offset + array.nbytes] = array.reshape(-1).data
        layout.append((offset, tuple(array.shape)))
        offset += array.nbytes
    shm.close()
    empty = np.zeros((0, 0, 3), np.uint8)
    parts = tuple(replace(p, image=empty) if isinstance(p, ImagePart) else p for p in message.parts)
    return Prepared(replace(message, parts=parts), seconds, shm.name, tuple(layout))


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
    try:
        return _to_shared(message, time.perf_counter() - started, job.owner or os.getppid())
    except _OwnerGone:
        return PrepareFailure("the run is gone")


class _OwnerGone(Exception):
    """The process that asked for the frames no longer exists."""


def _watch_owner(owner: int) -> None:
    """Exit this worker soon after the run's process is gone (e.g. killed with
    SIGKILL): the pool's pipes would otherwise keep it waiting for work forever."""
    while _alive(owner):
        time.sleep(0.5)
    os._exit(0)


def _warm_up(owner: int) -> None:
    """Start the owner watchdog, then import the decoding stack once per worker.

    Ctrl-C reaches every process of the terminal's group; workers ignore it and let the
    run shut the pool down (no traceback per worker).
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    threading.Thread(target=_watch_owner, args=(owner,), daemon=True).start()
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
        max_workers=workers or default_workers(),
        mp_context=context,
        initializer=_warm_up,
        initargs=(os.getpid(),),
    )
