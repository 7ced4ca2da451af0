"""Which of a benchmark's files are on disk: ``timelens-eval data status``.

:func:`video_presence` is also the runner's pre-flight check: it looks up every video
a benchmark's samples name, once per distinct file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timelens_eval.benchmarks.base import Benchmark, Sample, get_benchmark_spec
from timelens_eval.errors import TimelensError

__all__ = ["VideoPresence", "video_presence", "BenchmarkStatus", "benchmark_status"]


@dataclass
class VideoPresence:
    """The videos some samples name, and which of them are missing."""

    folder: str | None
    """The folder relative video paths are looked for in (the benchmark's video root)."""
    videos: int
    """Distinct video files named."""
    missing: list[Path] = field(default_factory=list)
    """Distinct missing files, in sample order."""
    missing_samples: set[str] = field(default_factory=set)
    """Ids of the samples whose video is missing."""

    @property
    def present(self) -> int:
        return self.videos - len(self.missing)


def video_presence(bench: Benchmark, samples: Iterable[Sample] | None = None) -> VideoPresence:
    """Look up the video of each of ``samples`` (default: all) under ``bench``'s video root.

    Samples that name no video file are not counted.
    """
    known: dict[Path, bool] = {}
    missing_samples: set[str] = set()
    for sample in bench.samples if samples is None else samples:
        path = bench.video_path(sample)
        if path is None:
            continue
        if path not in known:
            known[path] = path.is_file()
        if not known[path]:
            missing_samples.add(sample.sample_id)
    missing = [path for path, found in known.items() if not found]
    return VideoPresence(bench.video_root, len(known), missing, missing_samples)


@dataclass
class BenchmarkStatus:
    """What ``data status`` shows for one benchmark."""

    name: str
    source: str
    """``hub OWNER/NAME``, ``manual`` or ``generated``."""
    annotations: str | None
    found: bool
    content_hash: str | None = None
    """SHA-256 of the annotation file(s): the ``benchmark_hash`` a run records."""
    video_folder: str | None = None
    videos: int | None = None
    present: int | None = None
    missing: int | None = None
    first_missing: list[str] = field(default_factory=list)
    commit: str | None = None
    """The Hub commit the files were downloaded at (from the manifest)."""
    error: str | None = None
    """Why the annotation file could not be read."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _source(name: str) -> str:
    from timelens_eval.datafiles.sources import hub_source, manual_steps

    hub = hub_source(name)
    if hub is not None:
        return f"hub {hub.repo_id}"
    return "manual" if manual_steps(name, Path("data")) is not None else "generated"


def _commit(name: str, root: Path) -> str | None:
    from timelens_eval.datafiles.manifest import read_manifest
    from timelens_eval.datafiles.sources import hub_source, local_path

    hub = hub_source(name)
    if hub is None:
        return None
    try:
        manifest = read_manifest(local_path(hub.folder, root))
    except TimelensError:
        return None
    return manifest.commit if manifest is not None else None


def benchmark_status(name: str, root: Path) -> BenchmarkStatus:
    """Annotation file, its hash and the videos present and missing for ``name`` under ``root``."""
    from timelens_eval.benchmarks.base import load_benchmark
    from timelens_eval.datafiles.sources import local_path

    spec = get_benchmark_spec(name)
    source = _source(name)
    if spec.default_annotations is None:
        return BenchmarkStatus(name, source, None, True)
    annotations = local_path(spec.default_annotations, root)
    videos = local_path(spec.default_videos, root) if spec.default_videos else None
    status = BenchmarkStatus(
        name,
        source,
        str(annotations),
        annotations.is_file(),
        video_folder=str(videos) if videos is not None else None,
        commit=_commit(name, root),
    )
    if not status.found:
        return status
    try:
        bench = load_benchmark(name, annotations, video_root=videos)
    except TimelensError as exc:
        status.error = str(exc)
        return status
    presence = video_presence(bench)
    status.content_hash = bench.content_hash
    status.videos, status.present = presence.videos, presence.present
    status.missing = len(presence.missing)
    status.first_missing = [str(p) for p in presence.missing[:3]]
    return status
