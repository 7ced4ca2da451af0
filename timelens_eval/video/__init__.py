"""Frame sampling, timestamp encodings, pixel budgets and the frame cache.

Names are imported on first use, so ``import timelens_eval.video`` stays cheap; PyAV
itself is only imported when a video is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from timelens_eval.video.types import Frames, FrameSpec

if TYPE_CHECKING:
    from timelens_eval.video.budget import FrameSize, frame_size, smart_resize, timelens_frame_spec
    from timelens_eval.video.cache import FrameCache
    from timelens_eval.video.encodings import ENCODINGS, TimestampEncoding, encode_frames
    from timelens_eval.video.errors import VideoError
    from timelens_eval.video.sampler import VideoInfo, probe, sample_frames
    from timelens_eval.video.sheet import contact_sheet

__all__ = [
    "ENCODINGS",
    "FrameCache",
    "FrameSize",
    "FrameSpec",
    "Frames",
    "TimestampEncoding",
    "VideoError",
    "VideoInfo",
    "contact_sheet",
    "encode_frames",
    "frame_size",
    "probe",
    "sample_frames",
    "smart_resize",
    "timelens_frame_spec",
]

_LAZY = {
    "ENCODINGS": "encodings",
    "TimestampEncoding": "encodings",
    "encode_frames": "encodings",
    "FrameCache": "cache",
    "FrameSize": "budget",
    "frame_size": "budget",
    "smart_resize": "budget",
    "timelens_frame_spec": "budget",
    "VideoError": "errors",
    "VideoInfo": "sampler",
    "probe": "sampler",
    "sample_frames": "sampler",
    "contact_sheet": "sheet",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'timelens_eval.video' has no attribute {name!r}")
    return getattr(importlib.import_module(f"timelens_eval.video.{module}"), name)
