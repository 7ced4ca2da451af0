"""``motion-peak``: a third-party timelens-eval adapter, as a worked example.

The model is a training-free baseline: it measures how much each sampled frame differs
from the one before, and answers the window (a fixed fraction of the video) that holds
the most change. It ignores the query, so it is a floor, not a contender.

Everything a model author needs is here: a subclass of
:class:`timelens_eval.adapters.Adapter` with typed constructor arguments (they become
``--adapter-args``), validation that fails before a run starts, and an async
:meth:`~MotionPeakAdapter.ground` that reads the frames and timestamps of the prompt
and returns the answer as text. The package's ``pyproject.toml`` registers the class
under the entry-point group ``timelens_eval.adapters``.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import numpy as np

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GroundingOutput,
    GroundingRequest,
    ModelType,
)
from timelens_eval.errors import ConfigError
from timelens_eval.messages import ImagePart
from timelens_eval.video.types import FrameSpec

__all__ = ["MotionPeakAdapter", "motion_energy", "peak_window"]

__version__ = "0.1.0"


def motion_energy(images: list[ImagePart]) -> np.ndarray:
    """Mean absolute change of each frame from the previous one (0 for the first)."""
    energy = np.zeros(len(images), dtype=np.float64)
    for i in range(1, len(images)):
        now = images[i].image.astype(np.int16)
        before = images[i - 1].image.astype(np.int16)
        if now.shape == before.shape:
            energy[i] = float(np.abs(now - before).mean())
    return energy


def peak_window(
    timestamps: np.ndarray, energy: np.ndarray, length: float, low: float, high: float
) -> tuple[float, float]:
    """The ``length``-second window inside ``[low, high]``, starting at a frame, with the
    most energy; ties go to the earliest. No motion at all gives the middle of the range."""
    length = min(length, high - low)
    if energy.sum() <= 0:
        middle = (low + high) / 2
        return middle - length / 2, middle + length / 2
    best_start, best_sum = low, -1.0
    for t in timestamps:
        start = min(max(float(t), low), high - length)
        inside = (timestamps >= start) & (timestamps <= start + length)
        total = float(energy[inside].sum())
        if total > best_sum:
            best_start, best_sum = start, total
    return best_start, best_start + length


class MotionPeakAdapter(Adapter):
    """Answer the window with the most frame-to-frame change (see the module docstring)."""

    name: ClassVar[str] = "motion-peak"
    model_type: ClassVar[ModelType] = "baseline"
    needs_frames: ClassVar[bool] = True
    # Presets the runner uses unless the user overrides them: 2 fps, small frames
    # (this model only needs coarse motion), frames without timestamp text.
    default_frames: ClassVar[FrameSpec] = FrameSpec(fps=2.0, max_pixels=64 * 64)
    default_template: ClassVar[str] = "timelens"
    default_encoding: ClassVar[str] = "none"

    def __init__(self, window: float = 0.25, model: str = "motion-peak") -> None:
        """``window``: answer length as a fraction of the video (or clip), in (0, 1]."""
        if not 0 < window <= 1:
            raise ConfigError(f"motion-peak: window must be in (0, 1], got {window}")
        super().__init__(window=window, model=model)
        self.window = window

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Read the frames of ``request.message`` and answer in the TimeLens format."""
        if request.message is None or not request.message.images:
            raise AdapterError("motion-peak needs frames", retryable=False)
        started = time.perf_counter()
        # Real models do their heavy work off the event loop (or in their own engine),
        # so that the runner can keep other requests and the decoders going.
        start, end = await asyncio.to_thread(self._answer, request)
        return GroundingOutput(
            text=f"The event happens in {start:.1f} - {end:.1f} seconds.",
            latency_s=time.perf_counter() - started,
        )

    def _answer(self, request: GroundingRequest) -> tuple[float, float]:
        assert request.message is not None
        images = request.message.images
        low, high = (0.0, request.duration) if request.clip is None else tuple(request.clip)
        energy = motion_energy(images)
        timestamps = np.array([p.timestamp for p in images], dtype=np.float64)
        return peak_window(timestamps, energy, self.window * (high - low), low, high)
