"""``leaderboard validate``: is a result file fit for the leaderboard?

Checks, in order (each failure is one reason naming what is wrong):

1. the file is JSON, its ``schema_version`` is one this version reads, and it matches
   the schema;
2. the benchmark is registered and the variant agrees with the registry; metric values
   are percentages and CIs bracket them;
3. reported results name their ``source``; self-reported metrics exist;
4. reproduced results carry ``benchmark_hash`` and a per-sample file; the hash must be
   one of :mod:`known_hashes` or the hash of the benchmark loaded from an annotation
   file the validator can read; ``samples_sha256`` must match the file;
5. sample coverage: no duplicate ids; with the benchmark loaded, every sample present,
   no unknown ids, and each ``sample_hash`` equal to the benchmark's;
6. aggregates: the header's metrics and counts equal what :func:`metrics.summarize`
   gives on the per-sample IoUs, within ``tolerance`` percentage points; each IoU
   equals its first predicted span against the GT.

Checks that cannot run (no annotation file) become warnings, not reasons. A run's
sidecar and lock files (``*.json.spec``, ``*.json.lock``, the older ``*.spec.json`` and
``*.lock``, ``*.samples.jsonl``) are not results: they are reported as skipped, never as
invalid, so ``validate results/org/model/*`` works on a folder the runner wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from timelens_eval.benchmarks.base import Benchmark
from timelens_eval.errors import TimelensError, UnknownNameError
from timelens_eval.leaderboard.known_hashes import known_hashes
from timelens_eval.store import (
    SCHEMA_VERSION,
    RunResult,
    SampleRecord,
    read_sample_records,
    sidecar_kind,
)

__all__ = ["ValidateOptions", "FileReport", "validate_file", "validate_files"]

_SCORED = {"ok", "out_of_range"}


class ValidateOptions(BaseModel):
    """How strictly to validate."""

    annotations: dict[str, Path] = Field(
        default_factory=dict, description="Annotation file per benchmark name."
    )
    load_benchmarks: bool = Field(
        True, description="Load benchmarks (from --annotations or default paths) for coverage."
    )
    tolerance: float = Field(0.05, description="Allowed |header - recomputed| in points.")


class FileReport(BaseModel):
    """The verdict on one file."""

    path: str
    ok: bool
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    skipped: str | None = Field(
        None, description="Why the file was not validated (it is a run's sidecar, not a result)."
    )


def validate_files(
    paths: Sequence[str | Path], options: ValidateOptions | None = None
) -> list[FileReport]:
    """Validate every file; benchmarks are loaded once and shared."""
    options = options or ValidateOptions()
    cache: dict[str, Benchmark | str] = {}
    return [validate_file(p, options, cache) for p in paths]


def validate_file(
    path: str | Path,
    options: ValidateOptions | None = None,
    benchmarks: dict[str, Benchmark | str] | None = None,
) -> FileReport:
    """Validate one result header (and its per-sample file).

    ``benchmarks`` maps a name to a loaded benchmark, or to the reason it could not be
    loaded; it is filled on demand and may be pre-filled by callers.
    """
    options = options or ValidateOptions()
    benchmarks = {} if benchmarks is None else benchmarks
    kind = sidecar_kind(path)
    if kind is not None:
        return FileReport(path=str(path), ok=True, skipped=f"{kind}, not a result")
    report = FileReport(path=str(path), ok=False)
    result = _read_header(Path(path), report)
    if result is not None:
        _check_result(Path(path), result, options, benchmarks, report)
    report.ok = not report.reasons
    return report


def _read_header(path: Path, report: FileReport) -> RunResult | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.reasons.append("file not found")
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.reasons.append(f"not valid JSON ({exc})")
        return None
    if not isinstance(raw, dict):
        report.reasons.append("a result file must hold one JSON object")
        return None
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        report.reasons.append(
            f"unknown schema_version {version!r} (this version reads {SCHEMA_VERSION})"
        )
        return None
    try:
        return RunResult.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"])
            report.reasons.append(f"schema: {where}: {err['msg']}")
        return None


def _check_result(
    path: Path,
    result: RunResult,
    options: ValidateOptions,
    benchmarks: dict[str, Benchmark | str],
    report: FileReport,
) -> None:
    from timelens_eval.benchmarks import get_benchmark_spec

    spec = result.spec
    try:
        bench_spec = get_benchmark_spec(spec.benchmark)
    except UnknownNameError as exc:
        report.reasons.append(str(exc))
        return
    if bench_spec.variant is not None and spec.variant not in (None, bench_spec.variant):
        report.reasons.append(
            f"variant {spec.variant!r} but {spec.benchmark} is {bench_spec.variant!r}"
        )
    _check_metrics(result, report)
    if result.kind == "reported":
        if not result.source:
            report.reasons.append("a reported result must name its source")
        if result.samples_file is None:
            report.warnings.append("reported result: hash, coverage and aggregates not checked")
            return
    bench = _benchmark(spec.benchmark, options, benchmarks, report)
    _check_hash(result, bench, report)
    if result.samples_file is None:
        report.reasons.append("a reproduced result needs its per-sample file (samples_file)")
        return
    records = _read_records(path, result, report)
    if records is None:
        return
    _check_coverage(result, records, bench, report)
    _check_aggregates(result, records, options.tolerance, report)


def _check_metrics(result: RunResult, report: FileReport) -> None:
    for name, m in result.summary.metrics.items():
        if not (name == "mIoU" or name.startswith("R1@")):
            report.warnings.append(f"metric {name!r} is not shown on the leaderboard")
        if not 0 <= m.value <= 100:
            report.reasons.append(f"{name} = {m.value} is not a percentage in [0, 100]")
        if (
            m.ci_low is not None
            and m.ci_high is not None
            and not (m.ci_low - 1e-9 <= m.value <= m.ci_high + 1e-9)
        ):
            report.reasons.append(f"{name}: CI [{m.ci_low}, {m.ci_high}] excludes {m.value}")
    for name in result.self_reported_metrics:
        if name not in result.summary.metrics:
            report.reasons.append(f"self-reported metric {name!r} is not among the metrics")


def _benchmark(
    name: str,
    options: ValidateOptions,
    cache: dict[str, Benchmark | str],
    report: FileReport,
) -> Benchmark | None:
    from timelens_eval.benchmarks import load_benchmark

    if name not in cache:
        if not options.load_benchmarks:
            cache[name] = "benchmark loading disabled"
        else:
            try:
                cache[name] = load_benchmark(name, options.annotations.get(name))
            except (TimelensError, ImportError, OSError, ValueError) as exc:
                cache[name] = f"{type(exc).__name__}: {exc}"
    bench = cache[name]
    if isinstance(bench, str):
        report.warnings.append(f"benchmark {name} not loaded ({bench}); coverage not checked")
        return None
    return bench


def _check_hash(result: RunResult, bench: Benchmark | None, report: FileReport) -> None:
    got = result.spec.benchmark_hash
    expected = set(known_hashes(result.spec.benchmark))
    if bench is not None:
        expected.add(bench.content_hash)
    if got is None:
        report.reasons.append("spec.benchmark_hash is missing")
    elif expected and got not in expected:
        wanted = " or ".join(h[:12] + "..." for h in sorted(expected))
        report.reasons.append(
            f"benchmark_hash {got[:12]}... does not match the registered benchmark "
            f"{result.spec.benchmark} (expected {wanted})"
        )
    elif not expected:
        report.warnings.append(
            f"benchmark_hash not verified: no known hash for {result.spec.benchmark} and no "
            "annotation file (pass --annotations NAME=FILE)"
        )


def _read_records(path: Path, result: RunResult, report: FileReport) -> list[SampleRecord] | None:
    assert result.samples_file is not None
    samples_path = path.parent / result.samples_file
    try:
        data = samples_path.read_bytes()
        records = read_sample_records(samples_path)
    except (OSError, TimelensError) as exc:
        report.reasons.append(f"per-sample file: {exc}")
        return None
    if result.samples_sha256 and hashlib.sha256(data).hexdigest() != result.samples_sha256:
        report.reasons.append("samples_sha256 does not match the per-sample file")
    return records


def _examples(ids: Sequence[str] | set[str], k: int = 3) -> str:
    return ", ".join(sorted(ids)[:k])


def _check_coverage(
    result: RunResult, records: list[SampleRecord], bench: Benchmark | None, report: FileReport
) -> None:
    counts = Counter(r.sample_id for r in records)
    dupes = [s for s, c in counts.items() if c > 1]
    if dupes:
        report.reasons.append(f"{len(dupes)} duplicate sample ids (e.g. {_examples(dupes)})")
    if result.spec.limit is not None or result.spec.shard is not None:
        report.reasons.append("a partial run (limit or shard) cannot enter the leaderboard")
    if bench is None:
        return
    expected = bench.by_id()
    missing = set(expected) - set(counts)
    unknown = set(counts) - set(expected)
    if missing:
        report.reasons.append(
            f"missing samples: {len(missing)} of {len(expected)} absent (e.g. {_examples(missing)})"
        )
    if unknown:
        report.reasons.append(
            f"{len(unknown)} sample ids not in {bench.name} (e.g. {_examples(unknown)})"
        )
    changed = [
        r.sample_id
        for r in records
        if r.sample_id in expected and r.sample_hash != expected[r.sample_id].content_hash()
    ]
    if changed:
        report.reasons.append(
            f"{len(changed)} samples differ from the benchmark (sample_hash; e.g. "
            f"{_examples(changed)})"
        )


def _check_aggregates(
    result: RunResult, records: list[SampleRecord], tolerance: float, report: FileReport
) -> None:
    from timelens_eval.metrics import summarize
    from timelens_eval.spans import best_window_iou

    if not records:
        report.reasons.append("the per-sample file is empty")
        return
    wrong_iou = []
    if not result.spec.protocol.parse.clip_to_duration:
        for r in records:
            if r.status in _SCORED and r.spans and r.gt:
                expected = best_window_iou(r.spans[0], r.gt)
            elif r.status in _SCORED:
                continue
            else:
                expected = 0.0
            if abs(expected - r.iou) > 1e-4:
                wrong_iou.append(r.sample_id)
    if wrong_iou:
        report.reasons.append(
            f"{len(wrong_iou)} per-sample IoUs do not match their spans and GT "
            f"(e.g. {_examples(wrong_iou)})"
        )
    try:
        recomputed = summarize(
            [r.iou for r in records],
            [r.status for r in records],
            [r.video_id for r in records],
            result.spec.protocol,
            bootstrap=0,
        )
    except ValueError as exc:
        report.reasons.append(f"per-sample results cannot be aggregated: {exc}")
        return
    header = result.summary
    if header.n != recomputed.n:
        report.reasons.append(
            f"summary.n = {header.n} but the per-sample file gives {recomputed.n}"
        )
    for name, value in header.metrics.items():
        if name not in recomputed.metrics:
            continue
        again = recomputed.metrics[name].value
        if abs(value.value - again) > tolerance:
            report.reasons.append(
                f"tampered aggregate: {name} = {value.value:.4g} but the per-sample results "
                f"give {again:.4g}"
            )
    for field in ("parse_failures", "reversed", "out_of_range", "errors"):
        stated: Any = getattr(header, field)
        if stated is not None and stated != getattr(recomputed, field):
            report.reasons.append(
                f"summary.{field} = {stated} but the per-sample file gives "
                f"{getattr(recomputed, field)}"
            )


def parse_annotation_args(values: Sequence[str]) -> dict[str, Path]:
    """``NAME=FILE`` strings as a mapping (raises ConfigError on a malformed one)."""
    from timelens_eval.errors import ConfigError

    out: dict[str, Path] = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            raise ConfigError(f"--annotations expects NAME=FILE, got {value!r}")
        out[name] = Path(file)
    return out


def reports_json(reports: Sequence[FileReport]) -> Mapping[str, Any]:
    """Machine-readable summary of a validation."""
    return {"ok": all(r.ok for r in reports), "files": [r.model_dump() for r in reports]}


def expand_result_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given (sidecars included: they are reported as skipped); folders
    replaced by the result headers under them."""
    from timelens_eval.compare import find_result_files

    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        out.extend(find_result_files([path]) if path.is_dir() else [path])
    return out
