"""The annotation file format of the synthetic benchmark (JSON, one file per variant).

``synthetic-original.json`` and ``synthetic-refined.json`` sit next to a ``videos/``
folder. Both list the same videos and the same sample ids; they differ in each
sample's ``query`` and ``gt`` and in ``error_category``. See ``docs/synthetic.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.spans import Span, validate_span
from timelens_eval.synthetic import inject
from timelens_eval.synthetic.plan import GENERATOR_VERSION, PlannedSample, SplitPlan

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "VARIANTS",
    "annotation_filename",
    "plan_to_document",
    "write_annotations",
    "read_annotations",
]

FORMAT = "timelens-eval/synthetic"
FORMAT_VERSION = 1
VARIANTS: tuple[str, ...] = ("original", "refined")
VIDEO_DIR = "videos"


def annotation_filename(variant: str) -> str:
    """File name of a variant's annotations, e.g. ``synthetic-refined.json``."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return f"synthetic-{variant}.json"


def _span(span: Span) -> list[float]:
    return [span.start, span.end]


def _sample_record(sample: PlannedSample, variant: str) -> dict[str, Any]:
    record: dict[str, Any] = {"sample_id": sample.sample_id, "video_id": sample.video_id}
    if variant == "original":
        record.update(
            query=sample.original_query,
            gt=_span(sample.original_gt),
            error_category=sample.category,
            refined_query=sample.refined_query,
            refined_gt=_span(sample.refined_gt),
            duplicate_of=sample.duplicate_of,
            occurrences=[_span(s) for s in sample.occurrences],
        )
    else:
        record.update(
            query=sample.refined_query,
            gt=_span(sample.refined_gt),
            error_category=inject.NONE,
            original_error_category=sample.category,
            original_query=sample.original_query,
            original_gt=_span(sample.original_gt),
        )
    record.update(event_id=sample.event.event_id, action=sample.event.action)
    return record


def plan_to_document(plan: SplitPlan, variant: str, plan_hash: str) -> dict[str, Any]:
    """The JSON document of one variant of a planned split."""
    annotation_filename(variant)  # validates the name
    counts = plan.category_counts() if variant == "original" else {inject.NONE: len(plan.samples)}
    config = plan.config
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "benchmark": f"synthetic-{variant}",
        "variant": variant,
        "split": config.split,
        "seed": config.seed,
        "plan_hash": plan_hash,
        "config": config.to_dict(),
        "video_dir": VIDEO_DIR,
        "target_error_rates": dict(inject.ERROR_RATES) if variant == "original" else {},
        "error_counts": counts,
        "videos": [
            {
                "video_id": scene.video_id,
                "file": f"{scene.video_id}.mp4",
                "duration": scene.duration,
                "fps": scene.config.fps,
                "num_frames": scene.num_frames,
                "objects": [dict(o.__dict__) for o in scene.objects],
                "events": [dict(e.__dict__) for e in scene.events],
            }
            for scene in plan.scenes
        ],
        "samples": [_sample_record(s, variant) for s in plan.samples],
    }


def write_annotations(plan: SplitPlan, out_dir: Path, variant: str, plan_hash: str) -> Path:
    """Write one variant's annotation file into ``out_dir``; returns its path."""
    path = out_dir / annotation_filename(variant)
    document = plan_to_document(plan, variant, plan_hash)
    path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _need(
    mapping: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: Path,
    sample: str | None = None,
) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(
            f"field {key!r} is missing or not a {_kind_name(kind)}", path=path, sample=sample
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def read_annotations(path: Path) -> dict[str, Any]:
    """Read and validate an annotation file; returns the document with spans as :class:`Span`.

    Raises :class:`InputError` naming the file (and sample) on anything malformed.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("annotation file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read annotation file: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(
            f"not a synthetic-benchmark annotation file (format != {FORMAT!r})", path=path
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"unsupported format_version {version!r} (this version reads {FORMAT_VERSION})",
            path=path,
        )
    variant = _need(document, "variant", str, path)
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}", path=path)
    durations: dict[str, float] = {}
    files: dict[str, str] = {}
    for video in _need(document, "videos", list, path):
        if not isinstance(video, dict):
            raise InputError("each entry of 'videos' must be an object", path=path)
        video_id = _need(video, "video_id", str, path)
        durations[video_id] = float(_need(video, "duration", (int, float), path))
        files[video_id] = _need(video, "file", str, path)
    seen: set[str] = set()
    for record in _need(document, "samples", list, path):
        if not isinstance(record, dict):
            raise InputError("each entry of 'samples' must be an object", path=path)
        sample_id = _need(record, "sample_id", str, path)
        if sample_id in seen:
            raise InputError("duplicate sample_id", path=path, sample=sample_id)
        seen.add(sample_id)
        video_id = _need(record, "video_id", str, path, sample_id)
        if video_id not in durations:
            raise InputError(f"unknown video_id {video_id!r}", path=path, sample=sample_id)
        _need(record, "query", str, path, sample_id)
        category = _need(record, "error_category", str, path, sample_id)
        if category not in inject.ERROR_CATEGORIES:
            raise InputError(f"unknown error_category {category!r}", path=path, sample=sample_id)
        for key in ("gt", "refined_gt", "original_gt"):
            if key in record:
                record[key] = _read_span(record[key], key, path, sample_id)
        if "occurrences" in record:
            record["occurrences"] = [
                _read_span(s, "occurrences", path, sample_id) for s in record["occurrences"]
            ]
    document["_durations"] = durations
    document["_files"] = files
    return document


def _read_span(value: Any, key: str, path: Path, sample_id: str) -> Span:
    if not isinstance(value, list) or len(value) != 2:
        raise InputError(f"{key!r} must be a [start, end] pair", path=path, sample=sample_id)
    try:
        return validate_span(value[0], value[1])
    except ValueError as exc:
        raise InputError(f"bad {key!r}: {exc}", path=path, sample=sample_id) from None
