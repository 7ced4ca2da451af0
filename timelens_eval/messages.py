"""A model-agnostic prompt: an ordered list of text and image parts that adapters translate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TextPart", "ImagePart", "Part", "PromptMessage", "VideoSource"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True, eq=False)
class ImagePart:
    """One video frame as the model gets it (after resizing and any overlay)."""

    image: np.ndarray
    """``H x W x 3`` uint8 RGB."""
    timestamp: float
    """Seconds from the start of the video."""
    index: int
    """Position of the frame among the sampled frames."""


Part = TextPart | ImagePart


@dataclass(frozen=True)
class VideoSource:
    """Where the frames of a message come from in the video, as the processors' metadata.

    Set by the ``qwen-vl-utils`` sampler: ``frame_indices[i]`` is the source index of the
    message's ``i``-th frame, ``fps`` the stream's average rate, ``total_frames`` the source
    frames sampled from (the clip's count, for a clip).
    """

    fps: float
    frame_indices: tuple[int, ...]
    total_frames: int

    @property
    def sample_fps(self) -> float:
        """Frames per second of the sample: ``n / total_frames * fps``."""
        return len(self.frame_indices) / max(self.total_frames, 1e-6) * self.fps

    def metadata(self) -> dict[str, object]:
        """The video metadata qwen-vl-utils hands to the processors."""
        return {
            "fps": self.fps,
            "frames_indices": list(self.frame_indices),
            "total_num_frames": self.total_frames,
        }


@dataclass(frozen=True)
class PromptMessage:
    """A user turn: parts in order, plus what produced them (recorded with results)."""

    parts: tuple[Part, ...]
    template: str
    """Name of the prompt template."""
    template_hash: str
    encoding: str
    """Name of the timestamp encoding."""
    video: VideoSource | None = None
    """Source frame indices and rate (``qwen-vl-utils`` sampling), else None."""

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]

    @property
    def timestamps(self) -> np.ndarray:
        return np.array([p.timestamp for p in self.images], dtype=np.float64)

    def text(self, image_token: str = "<image>") -> str:
        """The whole turn as text, with ``image_token`` where each frame goes."""
        return "".join(p.text if isinstance(p, TextPart) else image_token for p in self.parts)
