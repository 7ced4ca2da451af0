"""Samples, benchmarks and the benchmark registry."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from timelens_eval.errors import InputError
from timelens_eval.registry import Registry
from timelens_eval.spans import Span

__all__ = [
    "Sample",
    "Benchmark",
    "BenchmarkSpec",
    "BENCHMARKS",
    "register_benchmark",
    "get_benchmark_spec",
    "load_benchmark",
    "benchmark_pairs",
    "file_sha256",
    "default_annotation_path",
    "default_video_root",
    "data_root",
    "resolve_data_path",
    "DATA_ENV",
]

Variant = Literal["original", "refined"]


@dataclass(frozen=True)
class Sample:
    """One grounding query: a video, a sentence and its ground-truth window(s)."""

    sample_id: str
    """Stable id, unique in the benchmark (e.g. ``"OHOFG#0"``); keys every per-sample record."""
    video_id: str
    query: str
    duration: float
    """Video duration in seconds, as the annotation file states it."""
    gt: tuple[Span, ...]
    """Ground-truth windows; usually one, several for QVHighlights."""
    video: str | None = None
    """Video path relative to the benchmark's video root (or absolute)."""
    clip: Span | None = None
    """Optional window of the video the model is shown (seconds)."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Loader-specific extras (e.g. ``error_category`` for the synthetic benchmark)."""

    def content_hash(self) -> str:
        """SHA-256 (hex, 16 chars) of everything that defines the sample's score."""
        payload = json.dumps(
            [self.sample_id, self.video_id, self.query, self.duration, [list(s) for s in self.gt]],
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Benchmark:
    """Loaded samples of one benchmark file."""

    name: str
    samples: list[Sample]
    content_hash: str
    """SHA-256 of the annotation file(s) the samples came from."""
    variant: Variant | None = None
    split: str = "test"
    source: str | None = None
    """Path of the annotation file."""
    video_root: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    """Counts of quirks the loader handled (e.g. ``gt_beyond_duration``)."""

    def __len__(self) -> int:
        return len(self.samples)

    @classmethod
    def from_files(
        cls,
        spec: BenchmarkSpec,
        samples: list[Sample],
        paths: str | Path | Sequence[str | Path],
        *,
        split: str | None = None,
        **notes: Any,
    ) -> Benchmark:
        """A benchmark loaded from annotation file(s): hash over all, source = the first.

        ``split`` overrides the spec's (e.g. ``val_1`` read off a file name); the other
        keywords are the loader's counts of quirks it handled.
        """
        files = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return cls(
            name=spec.name,
            samples=samples,
            content_hash=file_sha256(files),
            variant=spec.variant,
            split=split or spec.split,
            source=str(files[0]),
            notes=dict(notes),
        )

    def by_id(self) -> dict[str, Sample]:
        return {s.sample_id: s for s in self.samples}

    def video_path(self, sample: Sample) -> Path | None:
        if sample.video is None:
            return None
        path = Path(sample.video)
        if not path.is_absolute() and self.video_root is not None:
            path = Path(self.video_root) / path
        return path


Loader = Callable[..., Benchmark]


@dataclass(frozen=True)
class BenchmarkSpec:
    """A registry entry: how to find and load one benchmark."""

    name: str
    title: str
    loader: str
    """Lazy ``"module:function"``; called as ``loader(spec, annotations, **options)``."""
    variant: Variant | None = None
    pair: str | None = None
    """Name of the counterpart (original <-> refined)."""
    default_annotations: str | None = None
    """Where the annotation file is expected when ``--annotations`` is not given."""
    default_videos: str | None = None
    """The folder of the benchmark's videos when ``--video-root`` is not given
    (``data/...``, resolved like ``default_annotations``)."""
    official: str | None = None
    """Where the official release lives (shown when the file is missing)."""
    split: str = "test"
    group: str | None = None
    """Leaderboard group, e.g. ``"charades"``; pairs share one."""
    options: Mapping[str, Any] = field(default_factory=dict)
    run_protocol: str = "timelens"
    """The protocol ``run`` scores live answers with by default (a name in
    :data:`~timelens_eval.protocol.PROTOCOLS`): ``timelens-live`` on TimeLens-Bench, whose
    published numbers come from rounded predictions."""


BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmark")


def register_benchmark(spec: BenchmarkSpec) -> BenchmarkSpec:
    BENCHMARKS.register(spec.name, spec)
    return spec


def get_benchmark_spec(name: str) -> BenchmarkSpec:
    from timelens_eval.benchmarks import catalog  # noqa: F401  (registers built-ins)

    return BENCHMARKS.get(name)


def load_benchmark(
    name: str,
    annotations: str | Path | None = None,
    *,
    video_root: str | Path | None = None,
    **options: Any,
) -> Benchmark:
    """Load benchmark ``name`` from ``annotations`` (or its default location).

    The videos are looked for in ``video_root`` when given, else in the folder the
    loader chose (the synthetic benchmarks), else in the spec's ``default_videos``.
    """
    from timelens_eval.registry import load_object

    spec = get_benchmark_spec(name)
    path = annotations if annotations is not None else default_annotation_path(spec)
    if path is not None and not Path(path).exists() and spec.default_annotations is not None:
        from timelens_eval.datafiles.sources import fetch_hint

        hint = fetch_hint(name)
        where = f" (official release: {spec.official})" if spec.official else ""
        if annotations is not None:
            raise InputError(f"annotation file not found{where}", path=path)
        fetch = f"{hint}, or " if hint else ""
        raise InputError(
            f"annotation file not found (expected here); {fetch}pass --annotations FILE{where}",
            path=path,
        )
    loader = load_object(spec.loader)
    bench = loader(spec, Path(path) if path is not None else None, **{**spec.options, **options})  # type: ignore[operator]
    if video_root is not None:
        bench.video_root = str(video_root)
    elif bench.video_root is None and spec.default_videos is not None:
        bench.video_root = str(resolve_data_path(spec.default_videos))
    return bench


DATA_ENV = "TIMELENS_EVAL_DATA"
"""Environment variable naming the data folder (default ``./data``)."""


def data_root() -> Path:
    """The one folder every benchmark's files live under: ``$TIMELENS_EVAL_DATA`` or ``data``."""
    root = os.environ.get(DATA_ENV)
    return Path(root) if root else Path("data")


def resolve_data_path(default: str) -> Path:
    """A spec's ``data/...`` path under :func:`data_root`; other paths as they are."""
    path = Path(default)
    if path.parts and path.parts[0] == "data":
        return data_root().joinpath(*path.parts[1:])
    return path


def default_annotation_path(spec: BenchmarkSpec) -> Path | None:
    """Where ``spec``'s annotation file is expected: under ``$TIMELENS_EVAL_DATA`` or ``./data``."""
    if spec.default_annotations is None:
        return None
    return resolve_data_path(spec.default_annotations)


def default_video_root(spec: BenchmarkSpec) -> Path | None:
    """The folder ``spec``'s videos are looked for in when ``--video-root`` is not given."""
    if spec.default_videos is None:
        return None
    return resolve_data_path(spec.default_videos)


def benchmark_pairs() -> list[tuple[str, str]]:
    """Registered ``(original, refined)`` name pairs."""
    from timelens_eval.benchmarks import catalog  # noqa: F401

    pairs = []
    for name in BENCHMARKS:
        spec = BENCHMARKS.get(name)
        if spec.variant == "original" and spec.pair:
            pairs.append((spec.name, spec.pair))
    return pairs


def file_sha256(paths: Sequence[str | Path] | str | Path) -> str:
    """SHA-256 hex digest over the bytes of one or more files, in order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
