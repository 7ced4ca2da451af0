"""leaderboard validate: accepts a complete run, rejects each kind of bad submission
with its reason, and exits 0 / 1 / 2."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from repo_paths import REPORTED, ROOT

from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.cli import main
from timelens_eval.leaderboard.known_hashes import KNOWN_HASHES
from timelens_eval.leaderboard.validate import ValidateOptions, validate_file
from timelens_eval.metrics import score_answer
from timelens_eval.spans import Span
from timelens_eval.store import (
    MetricsSummary,
    MetricValue,
    RunResult,
    RunSpec,
    SampleRecord,
    write_result,
)

CHARADES = ROOT.parent / "shared" / "data" / "charades_sta" / "charades_sta_test.txt"


def _write(
    folder: Path,
    benchmark: str,
    variant: str | None,
    samples: list[Sample],
    bench_hash: str,
    drop: int = 0,
    seed: int = 0,
) -> Path:
    """A run whose header aggregates are computed here from its own per-sample IoUs."""
    rng = np.random.default_rng(seed)
    lines, ious = [], []
    for s in samples[drop:]:
        g = s.gt[0]
        pred = (max(0.0, g[0] + rng.normal(0, 2)), g[1] + rng.normal(0, 2))
        pred = (round(pred[0], 2), round(max(pred[1], pred[0] + 0.5), 2))
        answer = f"{pred[0]} - {pred[1]}"
        scored = score_answer(answer, [tuple(w) for w in s.gt], s.duration)
        assert scored.parsed.spans == (pred,)
        ious.append(scored.iou)
        lines.append(
            SampleRecord(
                sample_id=s.sample_id,
                video_id=s.video_id,
                query=s.query,
                duration=s.duration,
                gt=[tuple(w) for w in s.gt],
                sample_hash=s.content_hash(),
                answer=answer,
                spans=[pred],
                status=scored.parsed.status.value,
                iou=scored.iou,
            ).model_dump_json()
        )
    body = "\n".join(lines) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.samples.jsonl").write_text(body)
    arr = np.array(ious)
    metrics = {
        f"R1@{t}": MetricValue(value=float(np.mean(arr >= t) * 100), params={"threshold": t})
        for t in (0.3, 0.5, 0.7)
    }
    metrics["mIoU"] = MetricValue(value=float(arr.mean() * 100))
    statuses = Counter(json.loads(line)["status"] for line in lines)
    result = RunResult(
        spec=RunSpec(
            model="Submitted-7B",
            model_type="open",
            adapter="mock",
            benchmark=benchmark,
            variant=variant,
            benchmark_hash=bench_hash,
        ),
        summary=MetricsSummary(
            n=len(ious),
            metrics=metrics,
            parse_failures=0,
            reversed=0,
            out_of_range=statuses["out_of_range"],
            errors=0,
        ),
        samples_file="run.samples.jsonl",
        samples_sha256=hashlib.sha256(body.encode()).hexdigest(),
    )
    write_result(result, folder / "run.json")
    return folder / "run.json"


def _tamper(path: Path, edit) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def small_bench() -> Benchmark:
    samples = [
        Sample(f"v{i:02d}#0", f"v{i:02d}", f"query {i}", 60.0, (Span(5.0 + i, 20.0 + i),))
        for i in range(20)
    ]
    return Benchmark("synthetic-refined", samples, content_hash="ab" * 32, variant="refined")


def _check(path: Path, bench: Benchmark) -> list[str]:
    report = validate_file(path, ValidateOptions(), {bench.name: bench})
    return report.reasons


def test_valid_run_passes_and_each_defect_has_its_reason(tmp_path, small_bench):
    good = _write(tmp_path / "good", "synthetic-refined", "refined", small_bench.samples, "ab" * 32)
    assert _check(good, small_bench) == []

    wrong = _write(
        tmp_path / "hash", "synthetic-refined", "refined", small_bench.samples, "cd" * 32
    )
    assert any("does not match the registered benchmark" in r for r in _check(wrong, small_bench))

    missing = _write(
        tmp_path / "missing", "synthetic-refined", "refined", small_bench.samples, "ab" * 32, drop=3
    )
    reasons = _check(missing, small_bench)
    assert any(r.startswith("missing samples: 3 of 20") for r in reasons)

    tampered = _write(
        tmp_path / "tampered", "synthetic-refined", "refined", small_bench.samples, "ab" * 32
    )
    _tamper(
        tampered,
        lambda d: d["summary"]["metrics"]["mIoU"].update(
            value=d["summary"]["metrics"]["mIoU"]["value"] + 1.5
        ),
    )
    reasons = _check(tampered, small_bench)
    assert len(reasons) == 1 and reasons[0].startswith("tampered aggregate: mIoU")

    version = _write(
        tmp_path / "version", "synthetic-refined", "refined", small_bench.samples, "ab" * 32
    )
    _tamper(version, lambda d: d.update(schema_version=99))
    assert _check(version, small_bench) == ["unknown schema_version 99 (this version reads 1)"]


def test_other_defects(tmp_path, small_bench):
    path = _write(tmp_path / "a", "synthetic-refined", "refined", small_bench.samples, "ab" * 32)
    lines = (tmp_path / "a" / "run.samples.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["iou"] = 1.0  # an IoU that its spans do not give
    (tmp_path / "a" / "run.samples.jsonl").write_text(
        "\n".join([json.dumps(rec)] + lines[1:]) + "\n"
    )
    reasons = _check(path, small_bench)
    assert any("samples_sha256 does not match" in r for r in reasons)
    assert any(r.startswith("IoU not given by the answer and GT: 1 record") for r in reasons)

    other = _write(tmp_path / "b", "synthetic-refined", "original", small_bench.samples, "ab" * 32)
    assert any("variant 'original'" in r for r in _check(other, small_bench))
    unknown = _write(tmp_path / "c", "charades-stx", None, small_bench.samples, "ab" * 32)
    assert any("unknown benchmark 'charades-stx'" in r for r in _check(unknown, small_bench))
    partial = _write(tmp_path / "d", "synthetic-refined", "refined", small_bench.samples, "ab" * 32)
    _tamper(partial, lambda d: d["spec"].update(limit=20))
    assert any("partial run" in r for r in _check(partial, small_bench))


def test_reported_results_validate_and_need_a_source(tmp_path, capsys):
    files = sorted(str(p) for p in REPORTED.glob("*.json"))
    assert main(["leaderboard", "validate", "--no-load", *files]) == 0
    bad = tmp_path / "r.json"
    data = json.loads((REPORTED / "gpt-4o.charades-sta.json").read_text())
    data["source"] = None
    bad.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["leaderboard", "validate", "--no-load", "--json", str(bad)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["files"][0]["reasons"] == [
        "a reported result must name its source"
    ]


def test_cli_exit_codes_with_the_real_charades_file(tmp_path, capsys):
    if not CHARADES.exists():
        pytest.skip(f"{CHARADES} not available (real Charades-STA annotations)")
    from timelens_eval.benchmarks import load_benchmark

    bench = load_benchmark("charades-sta", CHARADES)
    assert bench.content_hash in KNOWN_HASHES["charades-sta"]
    good = _write(tmp_path / "good", "charades-sta", "original", bench.samples, bench.content_hash)
    missing = _write(
        tmp_path / "missing", "charades-sta", "original", bench.samples, bench.content_hash, drop=10
    )
    wrong = _write(tmp_path / "wrong", "charades-sta", "original", bench.samples, "0" * 64)
    ann = ["--annotations", f"charades-sta={CHARADES}"]
    assert main(["leaderboard", "validate", *ann, str(good)]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "validate", *ann, str(good), str(missing), str(wrong)]) == 1
    out = capsys.readouterr().out
    assert f"ok      {good}" in out
    assert f"INVALID {missing}" in out and "missing samples: 10 of 3720 absent" in out
    assert f"INVALID {wrong}" in out and "does not match the registered benchmark" in out
    # without the annotation file the known-hash table still catches a wrong hash
    assert main(["leaderboard", "validate", "--no-load", str(wrong)]) == 1
    assert main(["leaderboard", "validate", "--annotations", "charades-sta", str(good)]) == 2
    assert "NAME=FILE" in capsys.readouterr().err


def test_reproduced_results_in_the_repository_validate_against_regenerated_data():
    """results/reproduced holds runs of this harness: each must still validate, with the
    synthetic benchmark regenerated from its seed (same content hash, full coverage,
    aggregates recomputable from the per-sample records)."""
    files = sorted(str(p) for p in (ROOT / "results" / "reproduced").glob("*/*.json"))
    assert files, "results/reproduced is empty"
    assert main(["leaderboard", "validate", *files]) == 0
