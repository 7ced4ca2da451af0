"""Frame-sampling configuration and sampled frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FrameSampler", "FrameSpec", "Frames"]

FrameSampler = Literal["pts", "qwen-vl-utils"]
"""How frames are chosen and resized (see ``docs/video.md``):

* ``pts``: a target time every ``1/fps`` seconds, each taking the frame on screen then
  (from the stream's timestamps); resized by FFmpeg's swscale (bicubic); rotated upright.
* ``qwen-vl-utils``: as qwen-vl-utils 0.0.14 (the TimeLens evaluation) picks them: an even
  number of frames (``duration x fps``, at least 4, at most ``max_frames`` or 768) at
  frame indices ``linspace(0, total - 1, n)`` rounded, timestamps ``index / average fps``;
  resized by torchvision (bicubic, antialiased); not rotated.
"""


class FrameSpec(BaseModel):
    """How frames are sampled from a video. Recorded with every result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fps: float = Field(2.0, gt=0, description="Target sampling rate in frames per second.")
    max_frames: int | None = Field(None, ge=1, description="Cap on the number of frames.")
    min_pixels: int | None = Field(None, ge=1, description="Lower bound of pixels per frame.")
    max_pixels: int | None = Field(None, ge=1, description="Upper bound of pixels per frame.")
    total_pixels: int | None = Field(
        None, ge=1, description="Budget of pixels over all frames of one video."
    )
    patch: int = Field(28, ge=1, description="Frame sides are rounded to multiples of this.")
    sampler: FrameSampler = Field(
        "pts",
        description="How frames are chosen and resized: 'pts' (a frame every 1/fps s by "
        "timestamp) or 'qwen-vl-utils' (frame indices and resizing as qwen-vl-utils does).",
    )


@dataclass(frozen=True)
class Frames:
    """Decoded frames (``N x H x W x 3`` uint8, RGB) and their timestamps in seconds."""

    images: np.ndarray
    timestamps: np.ndarray
    """Presentation time of each frame in seconds from the start of the video."""
    video_duration: float | None = None
    source_fps: float | None = None
    """Frame rate of the source video (``qwen-vl-utils``: the stream's average rate)."""
    indices: np.ndarray | None = None
    """Index of each frame among the video's frames (``qwen-vl-utils`` sampling)."""
    source_frames: int | None = None
    """Source frames the sample was drawn from (the clip's count, for a clip)."""

    @property
    def sample_fps(self) -> float | None:
        """Frames per second of the sample: ``n / source_frames * source_fps``."""
        if self.source_frames is None or self.source_fps is None:
            return None
        return len(self) / max(self.source_frames, 1e-6) * self.source_fps

    def __len__(self) -> int:
        return int(self.images.shape[0])
