"""Forged submissions against ``leaderboard validate``. Each forgery starts from a real
run of the harness and is made self-consistent the way a forger would: the per-sample
records are edited, the summary is recomputed from them with the harness's own code and
the same bootstrap settings, and ``samples_sha256`` is updated. Every one is rejected,
with the benchmark loaded and, where the records alone betray it, without."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from parse_stall import STALL, stalling_env
from repo_paths import SUPPORT

from timelens_eval.adapters import build_adapter
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.leaderboard.validate import ValidateOptions, validate_file
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.runner.engine import summarize_records
from timelens_eval.spans import Span
from timelens_eval.store import SampleRecord, read_result, read_sample_records, write_result

pytestmark = pytest.mark.timeout(180)

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return make_bench()


def make_bench() -> Benchmark:
    """30 samples of 10 videos, the benchmark every forgery here is checked against."""
    samples = []
    for i in range(30):
        duration = 40.0 + 5 * (i % 4)
        start = 2.0 + (i * 1.7) % 20
        samples.append(
            Sample(
                f"v{i // 3:02d}#{i % 3}",
                f"v{i // 3:02d}",
                f"query {i}",
                duration,
                (Span(start, start + 9.0),),
            )
        )
    return Benchmark("synthetic-refined", samples, content_hash="ab" * 32, variant="refined")


@pytest.fixture(scope="module")
def genuine(tmp_path_factory, bench) -> Path:
    """A real run of the mock adapter (hash-derived spans) with 1000-draw bootstrap CIs."""
    out = tmp_path_factory.mktemp("genuine") / "run.json"
    outcome = run_benchmark(build_adapter("mock"), bench, RunOptions(output=out, bootstrap=1000))
    assert outcome.result is not None
    return out


def _validate(header: Path, bench: Benchmark | None) -> list[str]:
    options = ValidateOptions(load_benchmarks=bench is not None)
    cache = {bench.name: bench} if bench is not None else {}
    return validate_file(header, options, cache).reasons


def _forge(
    genuine: Path, folder: Path, records: Edit | None = None, header: Edit | None = None
) -> Path:
    """A copy of ``genuine`` with ``records`` applied to every record (then a consistent
    summary and hash) and ``header`` applied to the header JSON last."""
    folder.mkdir(parents=True, exist_ok=True)
    result = read_result(genuine)
    rows = [
        r.model_dump(mode="json")
        for r in read_sample_records(genuine.with_name("run.samples.jsonl"))
    ]
    if records is not None:
        for row in rows:
            records(row)
    forged = [SampleRecord.model_validate(row) for row in rows]
    body = "".join(r.model_dump_json() + "\n" for r in forged)
    (folder / "run.samples.jsonl").write_text(body)
    summary = result.summary
    again = summarize_records(
        forged,
        result.spec.protocol,
        bootstrap=summary.bootstrap_samples or 0,
        seed=summary.bootstrap_seed or 0,
    )
    result = result.model_copy(
        update={"summary": again, "samples_sha256": hashlib.sha256(body.encode()).hexdigest()}
    )
    path = folder / "run.json"
    write_result(result, path)
    if header is not None:
        data = json.loads(path.read_text())
        header(data)
        path.write_text(json.dumps(data))
    return path


def test_the_genuine_run_validates(genuine, bench):
    assert _validate(genuine, bench) == []


def _perfect_spans(row: dict[str, Any]) -> None:
    """Spans set to the GT, IoU 1; the answer text is kept."""
    row["spans"] = [row["gt"][0]]
    row["iou"] = 1.0
    row["status"] = "ok"


def _gt_from_prediction(row: dict[str, Any]) -> None:
    """GT set to the predicted span (IoU 1); sample_hash kept."""
    row["gt"] = [row["spans"][0]]
    row["iou"] = 1.0


@pytest.mark.parametrize("loaded", [True, False], ids=["benchmark", "no-benchmark"])
def test_spans_set_to_the_gt_with_the_answer_kept(genuine, bench, tmp_path, loaded):
    forged = _forge(genuine, tmp_path, records=_perfect_spans)
    reasons = _validate(forged, bench if loaded else None)
    assert any(
        r.startswith("spans not given by the answer parsed again: 30 records") for r in reasons
    )
    assert any(r.startswith("IoU not given by the answer and GT: 30 records") for r in reasons)


@pytest.mark.parametrize("loaded", [True, False], ids=["benchmark", "no-benchmark"])
def test_gt_set_to_the_prediction_with_the_hash_kept(genuine, bench, tmp_path, loaded):
    forged = _forge(genuine, tmp_path, records=_gt_from_prediction)
    reasons = _validate(forged, bench if loaded else None)
    assert any(r.startswith("sample_hash not given by the record's own") for r in reasons)
    if loaded:
        assert any(r.startswith("GT differs from the benchmark: 30 records") for r in reasons)


def _set(field: str, value: Any) -> Edit:
    def edit(row: dict[str, Any]) -> None:
        if row["sample_id"] == "v03#1":
            row[field] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("duration", 600.0), "duration differs from the benchmark: 1 record (e.g. v03#1)"),
        (_set("query", "another query"), "query differs from the benchmark: 1 record (e.g. v03#1)"),
        (_set("video_id", "v99"), "video differs from the benchmark: 1 record (e.g. v03#1)"),
    ],
    ids=["duration", "query", "video"],
)
def test_record_fields_must_be_the_benchmark_s(genuine, bench, tmp_path, edit, reason):
    forged = _forge(genuine, tmp_path, records=edit)
    assert reason in _validate(forged, bench)


def _metric(name: str, **fields: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["summary"]["metrics"].setdefault(name, {"value": 0.0}).update(fields)

    return edit


def _narrow(data: dict[str, Any]) -> None:
    for metric in data["summary"]["metrics"].values():
        metric["ci_low"], metric["ci_high"] = metric["value"] - 0.01, metric["value"] + 0.01


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_metric("R1@0.1", value=99.0), "metric 'R1@0.1' is not defined by the protocol"),
        (_narrow, "R1@0.5.ci_low = "),
        (lambda d: d["summary"].update(n_videos=3), "summary.n_videos = 3 but the per-sample"),
        (lambda d: d.update(samples_sha256=None), "samples_sha256 is missing"),
        (lambda d: d["spec"].update(benchmark_hash=None), "spec.benchmark_hash is missing"),
        (
            lambda d: d["summary"].update(bootstrap_samples=None),
            "summary.bootstrap_samples does not say",
        ),
        (
            lambda d: d["summary"].update(bootstrap_samples=10**12),
            "is more than the validator recomputes",
        ),
        (lambda d: d["summary"].update(ci_method="exact"), "summary.ci_method 'exact' is not how"),
    ],
    ids=[
        "extra-metric",
        "narrow-ci",
        "n-videos",
        "no-hash",
        "no-bench-hash",
        "no-draws",
        "draws",
        "method",
    ],
)
def test_header_forgeries(genuine, bench, tmp_path, edit, reason):
    forged = _forge(genuine, tmp_path, header=edit)
    started = time.monotonic()
    reasons = _validate(forged, bench)
    assert time.monotonic() - started < 60
    assert any(reason in r for r in reasons), reasons


def test_failed_requests_cannot_carry_a_score(genuine, bench, tmp_path):
    def fail(row: dict[str, Any]) -> None:
        if row["sample_id"] == "v01#0":
            row.update(status="error", iou=0.9, answer=None, error="HTTP 500")

    reasons = _validate(_forge(genuine, tmp_path, records=fail), bench)
    assert "a failed request (status error) with an IoU or spans: 1 record (e.g. v01#0)" in reasons


_VALIDATE_CHILD = """
import json, sys
sys.path[:0] = sys.argv[2:]  # this test's folder and the shared helpers
from test_hostile_submissions import make_bench
from timelens_eval.leaderboard.validate import ValidateOptions, validate_file
bench = make_bench()
report = validate_file(sys.argv[1], ValidateOptions(parse_timeout=2.0), {bench.name: bench})
print(json.dumps(report.reasons))
"""


def test_an_answer_that_stalls_the_parser_is_given_up_on(genuine, tmp_path):
    """An answer that holds the parser (a stand-in for a shape that would backtrack for
    minutes, see ``parse_stall``) costs the check its cap, and is named."""

    def stall(row: dict[str, Any]) -> None:
        if row["sample_id"] == "v02#2":
            row["answer"] = STALL + "1" * 4991

    forged = _forge(genuine, tmp_path, records=stall)
    started = time.monotonic()
    folders = [str(Path(__file__).parent), str(SUPPORT)]
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE_CHILD, str(forged), *folders],
        capture_output=True,
        text=True,
        env=stalling_env(tmp_path / "shim"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    reasons = json.loads(done.stdout)
    assert "the answer of v02#2 could not be parsed again within 2 s" in reasons
