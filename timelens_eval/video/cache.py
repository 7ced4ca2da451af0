"""An optional on-disk cache of sampled frames.

The key is the SHA-256 of an explicit list of everything that changes the frames:

* the file's *fast fingerprint*: size, modification time (ns) and the SHA-256 of its first
  and last MiB. It is not a full content hash: an edit in the middle of a file that keeps
  its size and modification time would go unnoticed (editors and copies update mtime);
* the whole :class:`FrameSpec` (fps, frame cap, pixel budget, patch multiple);
* the clip window and the duration hint;
* the sampler version (``SAMPLER_VERSION``) and the cache format version.

Entries are uncompressed ``.npz`` files written atomically (temporary file, then rename),
so concurrent workers may share a cache directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from timelens_eval.spans import Span
from timelens_eval.video.types import Frames, FrameSpec

__all__ = ["FrameCache", "file_fingerprint"]

_FORMAT = 2
_EDGE = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    """Fast identity of a file: size, mtime and a hash of its first and last MiB."""
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(_EDGE))
        if st.st_size > _EDGE:
            fh.seek(max(_EDGE, st.st_size - _EDGE))
            h.update(fh.read(_EDGE))
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:32]}"


class FrameCache:
    """Sampled frames stored under ``root``, keyed by file fingerprint and sampling config."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(
        self,
        path: str | Path,
        spec: FrameSpec,
        *,
        clip: Span | None = None,
        duration_hint: float | None = None,
    ) -> str:
        """The cache key (64 hex digits) of sampling ``path`` with these settings."""
        from timelens_eval.video.sampler import SAMPLER_VERSION

        parts = {
            "format": _FORMAT,
            "sampler": SAMPLER_VERSION,
            "file": file_fingerprint(path),
            "spec": spec.model_dump(mode="json"),
            "clip": [float(clip.start), float(clip.end)] if clip is not None else None,
            "duration_hint": duration_hint,
        }
        blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(
        self,
        path: str | Path,
        spec: FrameSpec,
        *,
        clip: Span | None = None,
        duration_hint: float | None = None,
    ) -> Frames | None:
        """Cached frames, or None on a miss (or an unreadable entry)."""
        file = self._file(self.key(path, spec, clip=clip, duration_hint=duration_hint))
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as data:
                meta = data["meta"]
                indices = data["indices"]
                return Frames(
                    images=data["images"],
                    timestamps=data["timestamps"],
                    video_duration=None if np.isnan(meta[0]) else float(meta[0]),
                    source_fps=None if np.isnan(meta[1]) else float(meta[1]),
                    indices=indices if indices.size else None,
                    source_frames=None if np.isnan(meta[2]) else int(meta[2]),
                )
        except (OSError, ValueError, KeyError):
            return None

    def put(
        self,
        path: str | Path,
        spec: FrameSpec,
        frames: Frames,
        *,
        clip: Span | None = None,
        duration_hint: float | None = None,
    ) -> Path:
        """Store ``frames``; returns the entry's file."""
        file = self._file(self.key(path, spec, clip=clip, duration_hint=duration_hint))
        file.parent.mkdir(parents=True, exist_ok=True)
        meta = np.array(
            [
                np.nan if frames.video_duration is None else frames.video_duration,
                np.nan if frames.source_fps is None else frames.source_fps,
                np.nan if frames.source_frames is None else frames.source_frames,
            ],
            dtype=np.float64,
        )
        indices = np.zeros(0, np.int64) if frames.indices is None else frames.indices
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    images=frames.images,
                    timestamps=frames.timestamps,
                    meta=meta,
                    indices=indices,
                )
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return file
