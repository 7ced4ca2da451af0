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

import contextlib
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.adapters.interface import GenerationConfig, ModelType
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
    "CorruptLine",
    "resolve_samples_file",
]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    """Base of the schema: unknown fields are refused; a field's docstring is its
    description (in the JSON schema too)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class MetricValue(_Model):
    """One metric in percent, with its confidence interval when computed."""

    value: float
    """The metric in percent."""
    ci_low: float | None = None
    """Lower end of the confidence interval (percent); None without one."""
    ci_high: float | None = None
    """Upper end of the confidence interval (percent); None without one."""
    params: dict[str, float] = Field(default_factory=dict)
    """Arguments of the metric factory, e.g. ``{"threshold": 0.5}``."""


class MetricsSummary(_Model):
    """Aggregate metrics of one run (percent) and the accounting behind them."""

    n: int = Field(description="Samples in the denominator.")
    n_videos: int | None = Field(None, description="Distinct videos among the samples.")
    metrics: dict[str, MetricValue] = Field(
        description="Keyed by the names of the protocol's metrics "
        "(metrics.protocol_metrics): 'R1@0.3', 'R1@0.5', 'R1@0.7', 'mIoU' by default."
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
    """Coverage of the confidence intervals."""
    bootstrap_samples: int | None = None
    """Bootstrap replicates behind the intervals (None: no bootstrap)."""
    bootstrap_seed: int | None = None
    """Seed of the bootstrap."""
    ci_method: str | None = Field(None, description="e.g. 'percentile bootstrap over videos'.")

    def value(self, name: str) -> float:
        return self.metrics[name].value


class PromptSpec(_Model):
    """The prompt a run used."""

    template: str
    """Registered prompt template name."""
    template_hash: str
    """Hash of the template's text, so an edited template is told apart."""
    encoding: str
    """Timestamp encoding (how frame times appear in the prompt)."""


class RunSpec(_Model):
    """Everything that produced a result."""

    model: str = Field(description="Display name of the model.")
    model_type: ModelType = Field(description="'open', 'proprietary' or 'baseline'.")
    adapter: str | None = Field(None, description="Registered adapter name (None if reported).")
    adapter_args: dict[str, Any] = Field(default_factory=dict, description="Without secrets.")
    benchmark: str = Field(description="Registered benchmark name.")
    variant: Literal["original", "refined"] | None = None
    """Which side of an original/refined benchmark pair; None outside a pair."""
    split: str = "test"
    """The benchmark's split."""
    benchmark_hash: str | None = Field(None, description="SHA-256 of the annotation file.")
    prompt: PromptSpec | None = None
    """The prompt; None for adapters that take no frames (baselines) or reported results."""
    frames: FrameSpec | None = None
    """How frames were sampled; None for adapters that take no frames."""
    generation: GenerationConfig | None = None
    """Decoding settings."""
    protocol: Protocol = Field(default_factory=Protocol)
    """Every rule that turned answers into scores."""
    limit: int | None = None
    """Only the first N samples were run (--limit)."""
    shard: str | None = Field(None, description="'i/N' for one shard of a run.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions.")
    git_commit: str | None = None
    """Commit of the checkout that ran it; None outside a git checkout."""
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    """When the run started (UTC)."""


class RunResult(_Model):
    """The header of a run, or a reported result."""

    schema_version: int = SCHEMA_VERSION
    """Version of this schema; readers refuse versions they do not know."""
    kind: Literal["reproduced", "reported"] = "reproduced"
    """'reproduced': run by this harness; 'reported': numbers printed in a paper."""
    spec: RunSpec
    """What produced the result."""
    summary: MetricsSummary
    """The aggregate metrics."""
    samples_file: str | None = Field(
        None, description="Per-sample JSONL, relative to this file's folder."
    )
    samples_sha256: str | None = None
    """SHA-256 of the per-sample file, checked by readers."""
    source: str | None = Field(None, description="Where reported numbers were printed.")
    self_reported_metrics: list[str] = Field(
        default_factory=list,
        description="Metrics the source copied from the model's own paper.",
    )


class SampleRecord(_Model):
    """One finished sample, as appended to the per-sample stream.

    A predicted time beyond the float range (an answer holding a 400-digit number) is
    written as the JSON constant ``Infinity``, which the readers accept in this stream.
    """

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")

    sample_id: str
    """Stable id of the sample in its benchmark."""
    video_id: str
    """The video's id; confidence intervals resample videos."""
    query: str
    """The sentence grounded."""
    duration: float
    """Video duration in seconds (from the annotations)."""
    gt: list[tuple[float, float]]
    """Ground-truth windows ``[start, end]`` in seconds."""
    sample_hash: str
    """Hash of the sample's content, so a changed annotation is told apart."""
    answer: str | None = Field(None, description="Raw model answer (None if the call failed).")
    spans: list[tuple[float, float]] = Field(default_factory=list)
    """Every span parsed from the answer, in order; the first is scored."""
    status: str = Field(description="ParseStatus value, or 'error' for a failed request.")
    iou: float = Field(ge=0, le=1, description="IoU of the scored span, in [0, 1].")
    error: str | None = None
    """Why the request failed (secrets redacted); None when it did not."""
    attempts: int = 1
    """Calls the runner made for this sample."""
    latency_s: float | None = None
    """Seconds the answering call took, as the adapter measured it."""
    input_tokens: int | None = None
    """Prompt tokens, when the adapter reports usage."""
    output_tokens: int | None = None
    """Answer tokens, when the adapter reports usage."""
    cost_usd: float | None = None
    """Cost of the call in US dollars, when the adapter knows the price."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """Labels of the sample and notes of the run (position, frames, decode time, ...)."""


def read_result(path: str | Path) -> RunResult:
    """Read and validate a result header; errors name the file (and line)."""
    from timelens_eval.json_limits import read_json_file

    path = Path(path)
    raw = read_json_file(path, header=True)
    if not isinstance(raw, dict):
        raise InputError("a result file must hold one JSON object", path=path)
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"unknown schema_version {repr(version)[:40]} (this version reads {SCHEMA_VERSION})",
            path=path,
        )
    try:
        return RunResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}", path=path) from None


def resolve_samples_file(header: str | Path, samples_file: str) -> Path:
    """The path of a header's per-sample file, which must lie in the header's folder.

    ``samples_file`` is a name relative to that folder: an absolute path, a ``..`` part
    or a link leading out of the folder raises :class:`InputError` naming the header.
    (Reading it then refuses anything but a regular file: no device, pipe or socket.)
    """
    header = Path(header)
    name = PurePosixPath(samples_file)
    if (
        not samples_file.strip()
        or "\x00" in samples_file
        or "\\" in samples_file
        or name.is_absolute()
        or ".." in name.parts
    ):
        raise InputError(
            f"samples_file {samples_file[:80]!r} must name a file inside the header's "
            "folder (no absolute path, no '..')",
            path=header,
        )
    target = header.parent / samples_file
    try:
        inside = target.resolve().is_relative_to(header.parent.resolve())
    except (OSError, RuntimeError):  # a link loop, a name too long
        inside = False
    if not inside:
        raise InputError(
            f"samples_file {samples_file[:80]!r} leads out of the header's folder (a link)",
            path=header,
        )
    return target


def write_result(result: RunResult, path: str | Path) -> None:
    """Write a header atomically (temp file + rename); a failure is one :class:`OutputError`."""
    from timelens_eval.errors import OutputError

    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # a partly written temp file (disk full)
        raise OutputError(path, exc) from None


class CorruptLine(NamedTuple):
    """A line of a per-sample stream that is not a record (see :func:`read_sample_records`)."""

    line: int
    raw: bytes
    reason: str


def _torn(raw: bytes) -> bool:
    """A last line cut short by a killed writer: no newline, and not a closed object."""
    return not raw.endswith(b"\n") and not raw.rstrip().endswith(b"}")


def read_sample_records(
    path: str | Path, corrupt: list[CorruptLine] | None = None
) -> list[SampleRecord]:
    """Read a per-sample stream; a torn last line (a killed writer) is ignored.

    A line that is not a record raises :class:`InputError` naming the file and line,
    unless ``corrupt`` is a list: then the line is skipped and appended to it.
    """
    from timelens_eval.json_limits import decode_utf8, iter_jsonl_lines, loads, read_limits

    path = Path(path)
    limits = read_limits()
    records = []
    for number, raw in iter_jsonl_lines(path, limits=limits):
        if not raw.strip():
            continue
        try:
            text = decode_utf8(raw, path=path, line=number)
            value = loads(text, path=path, line=number, limits=limits, infinity=True)
            records.append(SampleRecord.model_validate(value))
            continue
        except InputError as exc:
            reason = exc.reason
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            reason = f"{where}: {first['msg']}"
        if _torn(raw):
            break  # the torn final write: the file ends here
        if corrupt is None:
            raise InputError(reason, path=path, line=number)
        corrupt.append(CorruptLine(number, raw, reason))
    return records


_SIDECARS = (
    (".samples.jsonl", "a per-sample file"),
    (".samples.corrupt.jsonl", "corrupt records set aside on resume"),
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
