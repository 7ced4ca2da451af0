"""Timestamp encodings: how a model is told when each frame was sampled.

Each encoding turns sampled :class:`Frames` into the ordered parts that come before the
instruction text of a prompt. The name of the encoding is recorded with every result.

========================  ====================================================================
``none``                  frames only; the model relies on its own position encoding
``interleaved``           ``"0.0s"`` before each frame (one decimal)
``interleaved-patches``   ``"0.0s"`` before each pair of frames, the time of its first frame
                          (one timestamp per 2-frame temporal patch: the TimeLens-7B way)
``list``                  one sentence listing every timestamp, then the frames
``overlay``               the timestamp drawn onto the top-left corner of each frame
``frame-index``           ``"Frame 1:"`` before each frame (1-based)
``frame-index-list``      one sentence saying the frames are numbered 1..N, then the frames
========================  ====================================================================

Times are printed with one decimal (``f"{t:.1f}"``), durations too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from timelens_eval.messages import ImagePart, Part, TextPart
from timelens_eval.registry import Registry
from timelens_eval.video.budget import TEMPORAL_PATCH
from timelens_eval.video.types import Frames

__all__ = [
    "ENCODINGS",
    "TimestampEncoding",
    "encode_frames",
    "format_seconds",
    "register_encoding",
]

Renderer = Callable[[Frames, float], list[Part]]


@dataclass(frozen=True)
class TimestampEncoding:
    """A named way of presenting frames and their timestamps to a model."""

    name: str
    description: str
    render: Renderer
    """``(frames, video_duration) -> parts`` placed before the instruction text."""


ENCODINGS: Registry[TimestampEncoding] = Registry("timestamp encoding")


def register_encoding(
    name: str, description: str, *, replace: bool = False
) -> Callable[[Renderer], Renderer]:
    """Decorator registering a renderer under ``name``."""

    def wrap(render: Renderer) -> Renderer:
        ENCODINGS.register(name, TimestampEncoding(name, description, render), replace=replace)
        return render

    return wrap


def encode_frames(frames: Frames, encoding: str, duration: float) -> list[Part]:
    """Parts presenting ``frames`` with the named ``encoding``."""
    return ENCODINGS.get(encoding).render(frames, duration)


def format_seconds(t: float) -> str:
    """Seconds with one decimal, as models are shown them (``12.25 -> "12.2"``)."""
    return f"{float(t):.1f}"


def _images(frames: Frames) -> list[ImagePart]:
    return [
        ImagePart(image=frames.images[i], timestamp=float(frames.timestamps[i]), index=i)
        for i in range(len(frames))
    ]


def _frame_words(n: int) -> str:
    return "1 frame" if n == 1 else f"{n} frames"


@register_encoding("none", "Frames only; the model's own position encoding carries time.")
def _none(frames: Frames, duration: float) -> list[Part]:
    return list(_images(frames))


@register_encoding("interleaved", 'One-decimal seconds before each frame ("0.0s").')
def _interleaved(frames: Frames, duration: float) -> list[Part]:
    parts: list[Part] = []
    for image in _images(frames):
        parts.append(TextPart(f"{format_seconds(image.timestamp)}s"))
        parts.append(image)
    return parts


@register_encoding(
    "interleaved-patches",
    "One-decimal seconds before each pair of frames (one temporal patch), the time of its "
    'first frame ("0.0s"), as TimeLens-7B.',
)
def _interleaved_patches(frames: Frames, duration: float) -> list[Part]:
    parts: list[Part] = []
    for image in _images(frames):
        if image.index % TEMPORAL_PATCH == 0:
            parts.append(TextPart(f"{format_seconds(image.timestamp)}s"))
        parts.append(image)
    return parts


@register_encoding("list", "One sentence listing all sampling times, then the frames.")
def _list(frames: Frames, duration: float) -> list[Part]:
    times = ", ".join(format_seconds(t) for t in frames.timestamps)
    text = (
        f"This video samples {_frame_words(len(frames))} of a {format_seconds(duration)}-second "
        f"video at {times} seconds."
    )
    return [TextPart(text), *_images(frames)]


@register_encoding("frame-index", 'Frame number before each frame ("Frame 1:"), 1-based.')
def _frame_index(frames: Frames, duration: float) -> list[Part]:
    parts: list[Part] = []
    for image in _images(frames):
        parts.append(TextPart(f"Frame {image.index + 1}:"))
        parts.append(image)
    return parts


@register_encoding("frame-index-list", "One sentence saying frames are numbered 1..N, then them.")
def _frame_index_list(frames: Frames, duration: float) -> list[Part]:
    n = len(frames)
    text = (
        f"This video samples {_frame_words(n)} of a {format_seconds(duration)}-second video, "
        f"numbered 1 to {n} in time order."
    )
    return [TextPart(text), *_images(frames)]


@register_encoding("overlay", 'Timestamp ("12.5s") drawn on the top-left corner of each frame.')
def _overlay(frames: Frames, duration: float) -> list[Part]:
    return [
        ImagePart(image=draw_timestamp(p.image, p.timestamp), timestamp=p.timestamp, index=p.index)
        for p in _images(frames)
    ]


def draw_timestamp(image: np.ndarray, t: float) -> np.ndarray:
    """A copy of ``image`` with ``"{t:.1f}s"`` in white on black at the top-left corner.

    The text height is about 1/10 of the frame height (at least 10 pixels).
    """
    from PIL import Image, ImageDraw

    pil = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(pil)
    size = max(10, image.shape[0] // 10)
    font = _font(size)
    text = f"{format_seconds(t)}s"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, size // 5)
    draw.rectangle((0, 0, right - left + 2 * pad, bottom - top + 2 * pad), fill=(0, 0, 0))
    draw.text((pad - left, pad - top), text, fill=(255, 255, 255), font=font)
    return np.asarray(pil)


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()
