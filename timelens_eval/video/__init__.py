"""Frame sampling, timestamp encodings and the frame cache."""

from timelens_eval.video.types import Frames, FrameSpec

__all__ = ["FrameSpec", "Frames"]
