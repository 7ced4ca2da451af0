"""The error a video that cannot be sampled raises."""

from __future__ import annotations

from pathlib import Path

from timelens_eval.errors import InputError

__all__ = ["VideoError"]


class VideoError(InputError):
    """A missing, corrupt or non-video file, or a clip outside the video.

    ``path`` names the file and ``reason`` says what is wrong; the runner records the
    error for the sample and goes on with the next one.
    """

    def __init__(
        self, reason: str, *, path: str | Path | None = None, sample: str | None = None
    ) -> None:
        super().__init__(reason, path=path, sample=sample)
