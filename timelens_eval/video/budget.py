"""Pixel budgets: how large each sampled frame is, per model family.

Qwen-style vision encoders cut a frame into square patches whose side is the family's
*patch multiple* (28 = 14-pixel ViT patches merged 2x2 for Qwen2.5-VL, 32 = 16x2 for
Qwen3-VL); one merged patch becomes one visual token, so a frame of ``H x W`` pixels costs
``H * W / patch**2`` tokens, and two consecutive frames share one temporal patch. The
arithmetic below follows the published Qwen-VL preprocessing:

* each side is rounded to a multiple of ``patch``, keeping the aspect ratio;
* if the frame is larger than ``max_pixels`` it is scaled down (sides floored), if smaller
  than ``min_pixels`` scaled up (sides ceiled);
* for a video of ``n`` frames with a budget ``total_pixels``, the per-frame ceiling is
  ``max(min(768 * patch**2, total_pixels / n * 2), int(min_pixels * 1.05))``.

The TimeLens protocol uses ``min_pixels = 64 * patch**2`` and
``total_pixels = 14336 * patch**2``: at least 64 tokens per frame and at most 14,336 tokens
per video.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from timelens_eval.errors import ConfigError
from timelens_eval.video.types import FrameSpec

__all__ = [
    "FAMILY_PATCH",
    "MAX_ASPECT_RATIO",
    "MAX_TOKENS_PER_FRAME",
    "TEMPORAL_PATCH",
    "TIMELENS_MIN_TOKENS",
    "TIMELENS_TOTAL_TOKENS",
    "FrameSize",
    "frame_size",
    "smart_resize",
    "timelens_frame_spec",
    "tokens_per_frame",
]

FAMILY_PATCH: dict[str, int] = {"qwen2.5-vl": 28, "qwen3-vl": 32}
"""Patch multiple (side of one visual token in pixels) of each model family."""
TEMPORAL_PATCH = 2
"""Frames merged into one temporal patch by Qwen-style video encoders."""
MAX_TOKENS_PER_FRAME = 768
"""Default ceiling of tokens per video frame in the Qwen-VL preprocessing."""
DEFAULT_MIN_TOKENS = 128
"""Default floor of tokens per video frame in the Qwen-VL preprocessing."""
MAX_ASPECT_RATIO = 200
TIMELENS_MIN_TOKENS = 64
TIMELENS_TOTAL_TOKENS = 14336


class FrameSize(NamedTuple):
    """Height and width in pixels."""

    height: int
    width: int


def _round(x: float, f: int) -> int:
    return round(x / f) * f


def _ceil(x: float, f: int) -> int:
    return math.ceil(x / f) * f


def _floor(x: float, f: int) -> int:
    return math.floor(x / f) * f


def smart_resize(
    height: int, width: int, *, patch: int, min_pixels: float, max_pixels: float
) -> FrameSize:
    """Sides that are multiples of ``patch``, keep the aspect ratio, and fit the pixel range.

    Raises ConfigError for frames thinner than 1:200.
    """
    if height <= 0 or width <= 0:
        raise ConfigError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ConfigError(f"aspect ratio of a {width}x{height} frame exceeds {MAX_ASPECT_RATIO}:1")
    h = max(patch, _round(height, patch))
    w = max(patch, _round(width, patch))
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(patch, _floor(height / beta, patch))
        w = max(patch, _floor(width / beta, patch))
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = _ceil(height * beta, patch)
        w = _ceil(width * beta, patch)
    return FrameSize(h, w)


def has_budget(spec: FrameSpec) -> bool:
    """True when ``spec`` asks for any resizing (else frames keep their native size)."""
    return any(v is not None for v in (spec.min_pixels, spec.max_pixels, spec.total_pixels))


def frame_size(height: int, width: int, spec: FrameSpec, n_frames: int) -> FrameSize:
    """Size every frame of a video of ``n_frames`` sampled frames is resized to.

    Without ``min_pixels``/``max_pixels``/``total_pixels`` in ``spec`` frames keep their
    native size. Otherwise the Qwen-VL video rule applies, with the family defaults
    (128 to 768 tokens per frame) for the bounds ``spec`` leaves open.
    """
    if not has_budget(spec):
        return FrameSize(height, width)
    p = spec.patch
    min_pixels = spec.min_pixels if spec.min_pixels is not None else DEFAULT_MIN_TOKENS * p * p
    ceiling: float = MAX_TOKENS_PER_FRAME * p * p
    if spec.total_pixels is not None:
        share = spec.total_pixels / max(1, n_frames) * TEMPORAL_PATCH
        ceiling = max(min(ceiling, share), int(min_pixels * 1.05))
    if spec.max_pixels is not None:
        ceiling = min(ceiling, spec.max_pixels)
    return smart_resize(height, width, patch=p, min_pixels=min_pixels, max_pixels=ceiling)


def tokens_per_frame(size: FrameSize, patch: int) -> int:
    """Visual tokens one frame of ``size`` costs (one per ``patch x patch`` square)."""
    return (size.height // patch) * (size.width // patch)


def timelens_frame_spec(
    family: str = "qwen2.5-vl", *, fps: float = 2.0, max_frames: int | None = None
) -> FrameSpec:
    """The TimeLens protocol's frame sampling for ``family``: 2 fps, 64 to 14,336 tokens."""
    if family not in FAMILY_PATCH:
        from timelens_eval.errors import UnknownNameError

        raise UnknownNameError("model family", family, FAMILY_PATCH)
    p = FAMILY_PATCH[family]
    return FrameSpec(
        fps=fps,
        max_frames=max_frames,
        min_pixels=TIMELENS_MIN_TOKENS * p * p,
        max_pixels=None,
        total_pixels=TIMELENS_TOTAL_TOKENS * p * p,
        patch=p,
    )
