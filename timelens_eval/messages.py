"""A model-agnostic prompt: an ordered list of text and image parts that adapters translate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TextPart", "ImagePart", "Part", "PromptMessage"]


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
class PromptMessage:
    """A user turn: parts in order, plus what produced them (recorded with results)."""

    parts: tuple[Part, ...]
    template: str
    """Name of the prompt template."""
    template_hash: str
    encoding: str
    """Name of the timestamp encoding."""

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]

    @property
    def timestamps(self) -> np.ndarray:
        return np.array([p.timestamp for p in self.images], dtype=np.float64)

    def text(self, image_token: str = "<image>") -> str:
        """The whole turn as text, with ``image_token`` where each frame goes."""
        return "".join(p.text if isinstance(p, TextPart) else image_token for p in self.parts)
