"""Frame-sampling configuration and sampled frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FrameSpec", "Frames"]


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


@dataclass(frozen=True)
class Frames:
    """Decoded frames (``N x H x W x 3`` uint8, RGB) and their timestamps in seconds."""

    images: np.ndarray
    timestamps: np.ndarray
    """Presentation time of each frame in seconds from the start of the video."""
    video_duration: float | None = None
    source_fps: float | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])
