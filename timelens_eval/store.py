"""The result schema (versioned) and its readers and writers.

A run has two files:

* a **header** (``*.json``, :class:`RunResult`): the full spec and the aggregate
  metrics; reports and the leaderboard read only headers;
* a **per-sample stream** (``*.samples.jsonl``, one :class:`SampleRecord` a line),
  appended durably while the run goes and referenced from the header.

Reported results (numbers printed in papers) are headers without a sample stream.

While it runs, the runner also keeps a spec sidecar (``*.json.spec``) and a lock file
(``*.json.lock``) beside the header; :func:`sidecar_kind` tells every such companion
file apart from a header, so that tools given a glob of results skip them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.adapters import GenerationConfig, ModelType
from timelens_eval.errors import InputError
from timelens_eval.protocol import Protocol
from timelens_eval.video.types import FrameSpec

__all__ = [
    "SCHEMA_VERSION",
    "MetricValue",
    "MetricsSummary",
    "PromptSpec",
    "RunSpec",
    "RunResult",
    "SampleRecord",
    "read_result",
    "write_result",
    "read_sample_records",
    "sidecar_kind",
]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricValue(_Model):
    """One metric in percent, with its confidence interval when computed."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    params: dict[str, float] = Field(default_factory=dict)
    """Arguments of the metric factory, e.g. ``{"threshold": 0.5}``."""


class MetricsSummary(_Model):
    """Aggregate metrics of one run (percent) and the accounting behind them."""

    n: int = Field(description="Samples in the denominator.")
    n_videos: int | None = Field(None, description="Distinct videos among the samples.")
    metrics: dict[str, MetricValue] = Field(
        description="Keyed by canonical name: 'R1@0.3', 'R1@0.5', 'R1@0.7', 'mIoU'."
    )
    parse_failures: int | None = Field(None, description="Answers with no span (IoU 0).")
    reversed: int | None = Field(None, description="First span with start >= end (IoU 0).")
    out_of_range: int | None = Field(None, description="First span outside [0, duration].")
    errors: int | None = Field(None, description="Samples whose request failed for good.")
    missing_videos: int | None = Field(
        None,
        description="Samples not run because their video file was missing (--allow-missing): "
        "errors in the per-sample file, left out of n and of every metric.",
    )
    ci_level: float | None = 0.95
    bootstrap_samples: int | None = None
    bootstrap_seed: int | None = None
    ci_method: str | None = Field(None, description="e.g. 'percentile bootstrap over videos'.")

    def value(self, name: str) -> float:
        return self.metrics[name].value


class PromptSpec(_Model):
    template: str
    template_hash: str
    encoding: str


class RunSpec(_Model):
    """Everything that produced a result."""

    model: str = Field(description="Display name of the model.")
    model_type: ModelType = Field(description="'open', 'proprietary' or 'baseline'.")
    adapter: str | None = Field(None, description="Registered adapter name (None if reported).")
    adapter_args: dict[str, Any] = Field(default_factory=dict, description="Without secrets.")
    benchmark: str = Field(description="Registered benchmark name.")
    variant: Literal["original", "refined"] | None = None
    split: str = "test"
    benchmark_hash: str | None = Field(None, description="SHA-256 of the annotation file.")
    prompt: PromptSpec | None = None
    frames: FrameSpec | None = None
    generation: GenerationConfig | None = None
    protocol: Protocol = Field(default_factory=Protocol)
    limit: int | None = None
    shard: str | None = Field(None, description="'i/N' for one shard of a run.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions.")
    git_commit: str | None = None
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class RunResult(_Model):
    """The header of a run, or a reported result."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["reproduced", "reported"] = "reproduced"
    spec: RunSpec
    summary: MetricsSummary
    samples_file: str | None = Field(
        None, description="Per-sample JSONL, relative to this file's folder."
    )
    samples_sha256: str | None = None
    source: str | None = Field(None, description="Where reported numbers were printed.")
    self_reported_metrics: list[str] = Field(
        default_factory=list,
        description="Metrics the source copied from the model's own paper.",
    )


class SampleRecord(_Model):
    """One finished sample, as appended to the per-sample stream."""

    sample_id: str
    video_id: str
    query: str
    duration: float
    gt: list[tuple[float, float]]
    sample_hash: str
    answer: str | None = Field(None, description="Raw model answer (None if the call failed).")
    spans: list[tuple[float, float]] = Field(default_factory=list)
    status: str = Field(description="ParseStatus value, or 'error' for a failed request.")
    iou: float
    error: str | None = None
    attempts: int = 1
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


def read_result(path: str | Path) -> RunResult:
    """Read and validate a result header; errors name the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=path, line=exc.lineno) from None
    if not isinstance(raw, dict):
        raise InputError("a result file must hold one JSON object", path=path)
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"unknown schema_version {version!r} (this version reads {SCHEMA_VERSION})",
            path=path,
        )
    try:
        return RunResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}", path=path) from None


def write_result(result: RunResult, path: str | Path) -> None:
    """Write a header atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_sample_records(path: str | Path) -> list[SampleRecord]:
    """Read a per-sample stream; a torn last line (a killed writer) is ignored."""
    path = Path(path)
    records = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(SampleRecord.model_validate_json(line))
        except ValidationError as exc:
            is_last = all(not rest.strip() for rest in lines[number:])
            if is_last and not line.endswith("}"):
                break  # torn final write
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"{where}: {first['msg']}", path=path, line=number) from None
    return records


_SIDECARS = (
    (".samples.jsonl", "a per-sample file"),
    (".json.spec", "a run's spec sidecar"),
    (".spec.json", "a run's spec sidecar (older name)"),
    (".json.lock", "a run's lock file"),
    (".lock", "a lock file"),
    (".tmp", "a temporary file"),
)


def sidecar_kind(path: str | Path) -> str | None:
    """What a companion file of a run is (per-sample file, spec sidecar, lock file,
    temporary file), judged by its name; None for a file that may be a result header.

    The older names the runner used (``NAME.spec.json``, ``NAME.lock``) are recognised
    too, so folders written by earlier versions keep working.
    """
    name = Path(path).name
    for suffix, kind in _SIDECARS:
        if name.endswith(suffix):
            return kind
    return None
