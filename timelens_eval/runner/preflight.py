"""The pre-flight check of a run: every selected sample's video is on disk.

Run once before the first request. A missing video stops the run with one line naming
how many are missing, the first few paths and the folder searched; with
``allow_missing`` the run goes on and those samples are recorded as errors that no
metric counts (see :func:`missing_video_ids`).

Adapters whose answers do not depend on the video (``Adapter.reads_video`` False; by
default the baselines, ``model_type`` ``"baseline"`` without frames) are not checked: a
missing file changes nothing for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from timelens_eval.adapters import Adapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.errors import TimelensError

__all__ = ["MissingVideosError", "reads_video", "missing_video_ids", "MISSING_VIDEO"]

MISSING_VIDEO = "missing_video"
"""``SampleRecord.meta`` key marking a sample skipped because its video is missing."""

_SHOWN = 3


class MissingVideosError(TimelensError):
    """Videos of a benchmark are missing and the run was not told to go on without them."""


def reads_video(adapter: Adapter) -> bool:
    """True when the adapter's answers depend on the video: it takes frames, it says so
    (``reads_video``), or, when it does not say, it is a model (API and bridge adapters
    read the file themselves) rather than a baseline."""
    declared = getattr(adapter, "reads_video", None)
    if adapter.needs_frames or declared is not None:
        return bool(adapter.needs_frames or declared)
    return adapter.model_type != "baseline"


def missing_video_ids(
    adapter: Adapter, benchmark: Benchmark, samples: Sequence[Sample], *, allow_missing: bool
) -> set[str]:
    """Ids of ``samples`` whose video file is missing (only when ``allow_missing``).

    Raises :class:`MissingVideosError` when any is missing and ``allow_missing`` is
    False. Empty for adapters that do not read the video.
    """
    if not reads_video(adapter):
        return set()
    from timelens_eval.datafiles.status import video_presence

    presence = video_presence(benchmark, samples)
    if not presence.missing or allow_missing:
        return presence.missing_samples
    from timelens_eval.datafiles.sources import fetch_hint

    shown = ", ".join(str(p) for p in presence.missing[:_SHOWN])
    more = ", ..." if len(presence.missing) > _SHOWN else ""
    folder = presence.folder if presence.folder is not None else "the current folder"
    hint = fetch_hint(benchmark.name)
    raise MissingVideosError(
        f"{benchmark.name}: {len(presence.missing):,} of {presence.videos:,} videos are missing "
        f"({shown}{more}); folder searched: {folder}. Nothing was run: "
        + (f"{hint}, " if hint else "")
        + "pass --video-root DIR, or --allow-missing to run the other samples"
    )
