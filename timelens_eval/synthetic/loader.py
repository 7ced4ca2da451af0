"""Registry loader of ``synthetic-original`` and ``synthetic-refined``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timelens_eval.benchmarks.base import Benchmark, BenchmarkSpec, Sample, file_sha256
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.synthetic.annotations import VARIANTS, annotation_filename, read_annotations
from timelens_eval.synthetic.generate import ProgressCallback, ensure_split
from timelens_eval.synthetic.plan import SplitConfig

__all__ = ["load_synthetic", "samples_from_document"]

_META_KEYS = (
    "error_category",
    "original_error_category",
    "refined_query",
    "refined_gt",
    "original_query",
    "original_gt",
    "duplicate_of",
    "occurrences",
    "event_id",
    "action",
)


def load_synthetic(
    spec: BenchmarkSpec,
    path: Path | None,
    *,
    variant: str,
    split: str = "test",
    seed: int = 0,
    videos: int | None = None,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> Benchmark:
    """Load a synthetic split.

    With ``path`` None the split given by ``split``, ``seed`` and ``videos`` is taken
    from the cache (generated on first use, see :func:`ensure_split`). Otherwise
    ``path`` is an annotation file written by ``timelens-eval synth generate``, or
    the folder holding it (then ``synthetic-<variant>.json`` inside it is read).
    ``Benchmark.video_root`` is the folder of the MP4 files.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if path is None:
        made = ensure_split(
            SplitConfig(split=split, seed=seed, videos=videos),
            cache_dir=cache_dir,
            progress=progress,
            workers=workers,
        )
        path = made.annotations[variant]
    path = Path(path)
    if path.is_dir():
        path = path / annotation_filename(variant)
    document = read_annotations(path)
    if document["variant"] != variant:
        sibling = path.with_name(annotation_filename(variant))
        raise InputError(
            f"this is the {document['variant']!r} variant but {spec.name} needs {variant!r}; "
            f"pass {sibling}",
            path=path,
        )
    samples = samples_from_document(document)
    counts: dict[str, int] = {}
    for sample in samples:
        category = sample.meta["error_category"]
        counts[category] = counts.get(category, 0) + 1
    return Benchmark(
        name=spec.name,
        samples=samples,
        content_hash=file_sha256(path),
        variant=spec.variant or variant,  # type: ignore[arg-type]
        split=str(document.get("split", split)),
        source=str(path),
        video_root=str(path.parent / document.get("video_dir", "videos")),
        notes={
            "error_categories": counts,
            "seed": document.get("seed"),
            "plan_hash": document.get("plan_hash"),
        },
    )


def samples_from_document(document: dict[str, Any]) -> list[Sample]:
    """:class:`Sample` objects from a document returned by ``read_annotations``."""
    durations: dict[str, float] = document["_durations"]
    files: dict[str, str] = document["_files"]
    samples = []
    for record in document["samples"]:
        video_id = record["video_id"]
        meta = {key: record[key] for key in _META_KEYS if key in record}
        samples.append(
            Sample(
                sample_id=record["sample_id"],
                video_id=video_id,
                query=record["query"],
                duration=durations[video_id],
                gt=(record["gt"],),
                video=files[video_id],
                meta=meta,
            )
        )
    return samples
