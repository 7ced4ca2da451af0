"""Frame choice and resizing as qwen-vl-utils 0.0.14 does them (the TimeLens evaluation).

The TimeLens evaluation reads each video with qwen-vl-utils' ``fetch_video`` (decord
backend) at 2 fps and a pixel budget, then hands the frames to the model's processor with
``do_resize=False``. To give a checkpoint exactly that input, the ``qwen-vl-utils`` sampler
(:class:`~timelens_eval.video.types.FrameSpec` ``sampler``) follows the same rules:

1. **Range.** Without a clip, frames ``0 .. total - 1``. With a clip ``[a, b]`` (seconds),
   ``ceil(a * fps)`` to ``min(floor(b * fps), total - 1)`` where ``fps`` is the stream's
   average frame rate; the clip must hold at least two frames.
2. **Count.** ``n = count / fps * target_fps`` clamped to ``[4, max_frames]`` (``max_frames``
   defaults to ``min(768, count)``) and to ``count``, then floored to an even number.
3. **Indices.** ``linspace(first, last, n)`` rounded half to even, computed by
   ``torch.linspace`` in single precision as qwen-vl-utils does (so the indices agree
   bit for bit).
4. **Size.** Every frame gets one size: ``smart_resize`` of the decoded size with the
   per-frame ceiling ``max(min(768 * p**2, total_pixels / n * 2), int(min_pixels * 1.05))``
   (and ``max_pixels`` when given); resized with torchvision's bicubic, antialiased resize
   of the uint8 frame. Frames are not rotated (decord ignores the display matrix).
5. **Metadata.** Timestamps are ``index / fps``; the processors get
   ``{"fps": fps, "frames_indices": indices, "total_num_frames": count}`` and Qwen2.5-VL
   the sample rate ``n / count * fps``.

Steps 3 and 4 need ``torch`` and ``torchvision`` (the ``transformers-video`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from timelens_eval.errors import MissingDependencyError
from timelens_eval.spans import Span
from timelens_eval.video.budget import TEMPORAL_PATCH, FrameSize, smart_resize
from timelens_eval.video.types import FrameSpec

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "MIN_FRAMES",
    "FrameRange",
    "frame_count",
    "frame_indices",
    "frame_range",
    "qwen_frame_size",
    "single_thread_torch",
    "torchvision_resizer",
]

MIN_FRAMES = 4
"""Fewest frames qwen-vl-utils samples at a target fps."""
DEFAULT_MAX_FRAMES = 768
"""Most frames qwen-vl-utils samples at a target fps unless told otherwise."""
_DEFAULT_MIN_TOKENS = 128
_MAX_TOKENS_PER_FRAME = 768
_MODEL_SEQ_LEN = 128000
"""qwen-vl-utils' default sequence length; its default video budget is 90% of it."""


class FrameRange(NamedTuple):
    """Source frames a sample is drawn from: ``first .. last`` inclusive, ``count`` of them."""

    first: int
    last: int
    count: int  # type: ignore[assignment]  # shadows tuple.count on purpose


def _even_floor(x: float) -> int:
    return math.floor(x / TEMPORAL_PATCH) * TEMPORAL_PATCH


def _even_ceil(x: float) -> int:
    return math.ceil(x / TEMPORAL_PATCH) * TEMPORAL_PATCH


def frame_range(total: int, fps: float, clip: Span | None) -> FrameRange:
    """The source frames of the whole video, or of ``clip`` (step 1 of the module doc).

    Raises ``ValueError`` for a clip that holds fewer than two frames.
    """
    if total <= 0 or fps <= 0:
        raise ValueError(f"a video of {total} frames at {fps} fps cannot be sampled")
    if clip is None:
        return FrameRange(0, total - 1, total)
    longest = total / fps
    start = max(0.0, min(float(clip.start), longest))
    end = max(0.0, min(float(clip.end), longest))
    first = math.ceil(start * fps)
    last = min(math.floor(end * fps), total - 1)
    if first >= last:
        raise ValueError(
            f"clip {clip} holds no two frames (frames {first} to {last} of {total} at {fps:g} fps)"
        )
    return FrameRange(first, last, last - first + 1)


def frame_count(count: int, fps: float, spec: FrameSpec) -> int:
    """How many frames to sample from ``count`` source frames at ``fps`` (step 2).

    Raises ``ValueError`` when fewer than two frames would be sampled.
    """
    low = _even_ceil(MIN_FRAMES)
    high = _even_floor(
        spec.max_frames if spec.max_frames is not None else min(DEFAULT_MAX_FRAMES, count)
    )
    wanted = count / fps * spec.fps
    n = _even_floor(min(min(max(wanted, low), high), count))
    if not TEMPORAL_PATCH <= n <= count:
        raise ValueError(f"{n} frames cannot be sampled from {count} (need 2 to {count})")
    return n


def frame_indices(first: int, last: int, n: int) -> np.ndarray:
    """``n`` source frame indices from ``first`` to ``last`` (step 3), as int64."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "qwen-vl-utils frame sampling", "transformers-video", "torch"
        ) from None
    return torch.linspace(first, last, n).round().long().numpy().astype(np.int64)


def qwen_frame_size(height: int, width: int, spec: FrameSpec, n_frames: int) -> FrameSize:
    """The size every sampled frame is resized to (step 4)."""
    p = spec.patch
    min_pixels = spec.min_pixels if spec.min_pixels is not None else _DEFAULT_MIN_TOKENS * p * p
    total = spec.total_pixels if spec.total_pixels is not None else _MODEL_SEQ_LEN * p * p * 0.9
    ceiling = max(
        min(_MAX_TOKENS_PER_FRAME * p * p, total / n_frames * TEMPORAL_PATCH),
        int(min_pixels * 1.05),
    )
    if spec.max_pixels is not None:
        ceiling = min(ceiling, spec.max_pixels)
    return smart_resize(height, width, patch=p, min_pixels=min_pixels, max_pixels=ceiling)


def torchvision_resizer(size: FrameSize) -> Callable[[np.ndarray], np.ndarray]:
    """A function resizing one ``H x W x 3`` uint8 frame to ``size`` (step 4)."""
    try:
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as tvf
    except ImportError:
        raise MissingDependencyError(
            "qwen-vl-utils frame resizing", "transformers-video", "torchvision"
        ) from None
    target = [size.height, size.width]

    def resize(rgb: np.ndarray) -> np.ndarray:
        chw = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        out = tvf.resize(chw, target, interpolation=InterpolationMode.BICUBIC, antialias=True)
        return out.permute(1, 2, 0).numpy()

    return resize


@contextmanager
def single_thread_torch() -> Iterator[None]:
    """Run torch on one thread inside the block (then restore the count).

    Resizing one small frame is far too little work to share: with several threads the
    hand-offs cost more than the arithmetic (measured: 768 frames took 39 s on 2 busy
    cores with torch's default 2 threads, 2.4 s with one). The result is the same.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
