"""``leaderboard validate``: is a result file fit for the leaderboard?

Checks, in order (each failure is one reason naming what is wrong):

1. the file is a regular file within the header limits (:mod:`timelens_eval.json_limits`:
   size, nesting, number length, no key twice in one object), its ``schema_version``
   is one this version reads, and it matches the schema;
2. the benchmark is registered and the variant agrees with the registry; every metric
   is one the recorded protocol defines, a percentage, inside its CI;
3. reported results name their ``source``; self-reported metrics exist;
4. reproduced results carry ``benchmark_hash``, a per-sample file inside the header's
   folder (no absolute path, no ``..``, no link out, no device) and its
   ``samples_sha256``; the benchmark hash must be one of :mod:`known_hashes` or the
   hash of the benchmark loaded from an annotation file the validator can read;
   ``samples_sha256`` must match the file;
5. sample coverage: no duplicate ids; with the benchmark loaded, every sample present,
   no unknown ids, each record's id, video, query, duration and GT equal to the
   benchmark's, and each ``sample_hash`` equal to the benchmark's; without it, each
   ``sample_hash`` must still be the hash of the record's own fields;
6. every answer parsed again under the recorded protocol gives the record's status,
   spans and IoU (:mod:`~timelens_eval.leaderboard.recompute`);
7. aggregates: the header's metrics, CIs (recomputed with its bootstrap settings),
   ``n``, ``n_videos`` and counts equal what the per-sample records give, within
   ``tolerance`` percentage points.

Checks that cannot run (no annotation file) become warnings, not reasons. A run's
sidecar and lock files (``*.json.spec``, ``*.json.lock``, the older ``*.spec.json`` and
``*.lock``, ``*.samples.jsonl``) are not results: they are reported as skipped, never as
invalid, so ``validate results/org/model/*`` works on a folder the runner wrote.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from timelens_eval.benchmarks.base import Benchmark
from timelens_eval.errors import InputError, TimelensError, UnknownNameError
from timelens_eval.leaderboard import recompute
from timelens_eval.leaderboard.known_hashes import known_hashes
from timelens_eval.store import (
    SCHEMA_VERSION,
    RunResult,
    SampleRecord,
    read_sample_records,
    resolve_samples_file,
    sidecar_kind,
)

__all__ = ["ValidateOptions", "FileReport", "validate_file", "validate_files"]


class ValidateOptions(BaseModel):
    """How strictly to validate."""

    annotations: dict[str, Path] = Field(
        default_factory=dict, description="Annotation file per benchmark name."
    )
    load_benchmarks: bool = Field(
        True, description="Load benchmarks (from --annotations or default paths) for coverage."
    )
    tolerance: float = Field(0.05, description="Allowed |header - recomputed| in points.")
    parse_timeout: float = Field(
        10.0, gt=0, description="Seconds one answer may take to parse again."
    )


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
    from timelens_eval.json_limits import read_json_file

    try:
        raw = read_json_file(path, header=True)
    except InputError as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        report.reasons.append(f"{where}{exc.reason}")
        return None
    if not isinstance(raw, dict):
        report.reasons.append("a result file must hold one JSON object")
        return None
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        report.reasons.append(
            f"unknown schema_version {repr(version)[:40]} (this version reads {SCHEMA_VERSION})"
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
    if result.samples_sha256 is None:
        report.reasons.append("samples_sha256 is missing (the hash of the per-sample file)")
    records = _read_records(path, result, report)
    if records is None:
        return
    if not records:
        report.reasons.append("the per-sample file is empty")
        return
    _check_coverage(result, records, bench, report)
    reasons = report.reasons
    recompute.check_record_fields(records, bench, reasons)
    recompute.check_answers(records, spec.protocol, reasons, timeout=options.parse_timeout)
    recompute.check_summary(result, records, bench, options.tolerance, reasons)


def _check_metrics(result: RunResult, report: FileReport) -> None:
    recompute.check_metric_names(result, report.reasons)
    for name, m in result.summary.metrics.items():
        shown = name[:40]
        if not 0 <= m.value <= 100:
            report.reasons.append(f"{shown} = {m.value} is not a percentage in [0, 100]")
        bounds = [b for b in (m.ci_low, m.ci_high) if b is not None]
        if any(not 0 <= b <= 100 for b in bounds):
            report.reasons.append(f"{shown}: CI [{m.ci_low}, {m.ci_high}] leaves [0, 100]")
        if (
            m.ci_low is not None
            and m.ci_high is not None
            and not (m.ci_low - 1e-9 <= m.value <= m.ci_high + 1e-9)
        ):
            report.reasons.append(f"{shown}: CI [{m.ci_low}, {m.ci_high}] excludes {m.value}")
    for name in result.self_reported_metrics:
        if name not in result.summary.metrics:
            report.reasons.append(f"self-reported metric {name[:40]!r} is not among the metrics")


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
    from timelens_eval.json_limits import open_regular_file

    assert result.samples_file is not None
    try:
        samples_path = resolve_samples_file(path, result.samples_file)
        digest = hashlib.sha256()
        with open_regular_file(samples_path) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        records = read_sample_records(samples_path)
    except InputError as exc:
        report.reasons.append(f"per-sample file: {exc}")
        return None
    if result.samples_sha256 and digest.hexdigest() != result.samples_sha256:
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
