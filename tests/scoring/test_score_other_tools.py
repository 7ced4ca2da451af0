"""``score`` reads other tools' prediction files as they are: TimeChat, lmms-eval, CSV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_support import run_main
from repo_paths import FIXTURES, needs_data
from repo_paths import SHARED_DATA as DATA

from timelens_eval.benchmarks import load_benchmark

TIMECHAT = DATA / "predictions" / "charades_timechat_sample500.json"
CHARADES = DATA / "charades_sta" / "charades_sta_test.txt"
MIRROR = Path(os.environ["TIMELENS_REPO"]) if os.environ.get("TIMELENS_REPO") else None
RECORDED = FIXTURES / "timechat_compute_metrics.json"

# A small Charades-TimeLens-shaped benchmark: (video, duration, [(start, end, query)])
VIDEOS = [
    ("AAA01", 30.0, [(1.0, 7.5, "a person sits on a chair."), (20.0, 28.0, "person eats food")]),
    ("BBB02", 25.0, [(0.0, 5.0, "a man opens the door"), (10.0, 20.0, "he walks away.")]),
    ("CCC03", 40.0, [(12.0, 18.0, "the woman laughs"), (2.0, 9.0, "she picks up a cup")]),
]
# Answer per (video, k): a span shifted by a known amount, or no time at all
SHIFTS = {("AAA01", 0): 0.0, ("AAA01", 1): 2.0, ("BBB02", 0): 1.0, ("BBB02", 1): None}
SHIFTS |= {("CCC03", 0): 6.0, ("CCC03", 1): -1.0}


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run_main(["score", *argv, "--json", "--bootstrap", "0"], capsys)
    assert code == 0, err
    return json.loads(out)


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def _expected(ious: list[float]) -> dict[str, float]:
    n = len(ious)
    out = {f"R1@{t}": 100 * sum(i >= t for i in ious) / n for t in (0.3, 0.5, 0.7)}
    out["mIoU"] = 100 * sum(ious) / n
    return out


def _answers() -> list[tuple[str, float, tuple[float, float], str | None]]:
    """``(video, query, gt, answer text)`` rows and the IoU each must get."""
    rows = []
    for vid, _, events in VIDEOS:
        for k, (start, end, query) in enumerate(events):
            shift = SHIFTS[(vid, k)]
            answer = None if shift is None else (start + shift, end + shift)
            rows.append((vid, query, (start, end), answer))
    return rows


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    data = {
        vid: {"duration": d, "spans": [[s, e] for s, e, _ in ev], "queries": [q for *_, q in ev]}
        for vid, d, ev in VIDEOS
    }
    path = tmp_path / "charades-timelens.json"
    path.write_text(json.dumps(data))
    return path


def _expected_ious() -> list[float]:
    return [0.0 if a is None else _iou(a, gt) for _, _, gt, a in _answers()]


_LMMS_WRITER = textwrap.dedent(
    """
    # Writes samples logs with lmms-eval's own code: each task's process_results, and
    # the EvaluationTracker that --log_samples uses. lmms_eval.tasks' __init__ (the task
    # registry) needs the `evaluate` package, which the tasks' utils do not: skip it.
    import json, os, sys, types
    import lmms_eval
    tasks = types.ModuleType("lmms_eval.tasks")
    tasks.__path__ = [os.path.join(os.path.dirname(lmms_eval.__file__), "tasks")]
    sys.modules["lmms_eval.tasks"] = tasks
    import lmms_eval.tasks.timelens.utils as timelens
    import lmms_eval.tasks.charades_sta.utils as charades
    from lmms_eval.loggers.evaluation_tracker import EvaluationTracker

    rows, out = json.loads(sys.argv[1]), sys.argv[2]
    docs = {
        "timelens_charades": (
            timelens,
            [{"video_path": f"charades/{v}.mp4", "query": q, "span": [gt]} for v, q, gt, _ in rows],
            timelens.timelens_process_results,
            timelens.timelens_doc_to_target,
        ),
        "temporal_grounding_charades": (
            charades,
            [{"video": f"{v}.mp4", "caption": q, "timestamp": gt} for v, q, gt, _ in rows],
            charades.temporal_grounding_process_results_generation,
            charades.temporal_grounding_doc_to_answer,
        ),
    }
    tracker = EvaluationTracker(output_path=out)
    tracker.general_config_tracker.model_name_sanitized = "model"
    tracker.date_id = "2026-01-01T00-00-00"
    for task, (module, task_docs, process, target) in docs.items():
        samples = []
        for doc_id, (doc, row) in enumerate(zip(task_docs, rows)):
            answer = "I cannot tell." if row[3] is None else (
                f"The event happens in {row[3][0]:.1f} - {row[3][1]:.1f} seconds."
            )
            sample = {
                "doc_id": doc_id, "doc": doc, "target": target(doc),
                "arguments": ["<prompt>", {"max_new_tokens": 50}],
                "resps": [[answer]], "filtered_resps": [answer], "doc_hash": str(doc_id),
            }
            sample.update(process(doc, [answer]))
            samples.append(sample)
        tracker.save_results_samples(task, samples)
    """
)


def test_lmms_eval_samples_logs_of_both_grounding_tasks(
    tmp_path: Path, bench_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.dumps(_answers())
    done = subprocess.run(
        [sys.executable, "-c", _LMMS_WRITER, rows, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    expected = _expected(_expected_ious())
    for task in ("timelens_charades", "temporal_grounding_charades"):
        log = tmp_path / f"logs/model/2026-01-01T00-00-00_samples_{task}.jsonl"
        alone = _json([str(log)], capsys)  # the ground truth comes from the logged keys
        on_bench = _json([str(log), "-b", "charades-timelens", "-a", str(bench_file)], capsys)
        for result in (alone, on_bench):
            assert result["format"] == "lmms-eval" and result["format_detected"] is True
            assert result["n"] == 6 and result["parse_failures"] == 1
            for name, value in expected.items():
                assert result[name] == pytest.approx(value), (task, name)
        cov = on_bench["coverage"]
        assert (cov["matched"], cov["expected"], cov["missing"], cov["extra"]) == (6, 6, 0, 0)


def test_plain_csv_against_a_benchmark(
    tmp_path: Path, bench_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["video,query,start,end,model"]
    for vid, query, _, answer in _answers()[:5]:  # the last sample has no prediction
        times = ("", "") if answer is None else answer
        lines.append(f'{vid}.mp4,"{query}",{times[0]},{times[1]},m')
    path = tmp_path / "preds.csv"
    path.write_text("\n".join(lines) + "\n")
    argv = [str(path), "-b", "charades-timelens", "-a", str(bench_file)]
    result = _json(argv, capsys)
    assert result["format"] == "csv" and result["coverage"]["matched"] == 5
    assert result["coverage"]["missing_ids"] == ["CCC03#1"]
    ious = _expected_ious()
    assert result["mIoU"] == pytest.approx(_expected(ious[:5] + [0.0])["mIoU"])
    matched = _json([*argv, "--matched-only"], capsys)
    assert matched["matched_only"] is True and matched["n"] == 5
    for name, value in _expected(ious[:5]).items():
        assert matched[name] == pytest.approx(value)
    code, _, err = run_main(["score", str(path)], capsys)  # no ground truth without a benchmark
    assert code == 2 and "csv predictions carry no ground truth" in err


def test_an_unknown_shape_lists_what_score_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in (("p.json", '{"a": {"b": 1}}'), ("p.jsonl", '{"x": 1}\n')):
        path = tmp_path / name
        path.write_text(text)
        code, out, err = run_main(["score", str(path)], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith(f"error: {path}")
        for fmt in ("timelens (", "timechat (", "lmms-eval (", "moment-detr (", "jsonl (", "csv ("):
            assert fmt in err
        assert "--format timelens|timechat|lmms-eval|moment-detr|jsonl|csv" in err


@needs_data
def test_timechat_file_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["score", str(TIMECHAT), "--benchmark", "charades-sta", "--annotations", str(CHARADES)]
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    text = " ".join(out.split())  # the table wraps at the terminal's width
    assert "(timechat, detected)" in text
    assert "matched 500 of 3,720 samples, missing 3,220 (scored 0)" in text
    result = _json(argv[1:], capsys)
    assert result["format"] == "timechat" and result["n"] == 3720
    assert result["coverage"]["matched"] == 500 and result["coverage"]["extra"] == 0
    assert result["parse_failures"] == 280 and result["matched_only"] is False


def _timelens_compute_metrics(predictions: Path, tmp: Path) -> dict[str, float]:
    """TimeLens' evaluation/compute_metrics.py, run as it is from the mirrored repository.

    Only it and the one module it imports (``timelens/utils.py``, standard library only)
    are written out, into a temporary folder.
    """
    assert MIRROR is not None and MIRROR.exists(), f"no TimeLens repository at {MIRROR}"
    code = tmp / "timelens_code"
    (code / "timelens").mkdir(parents=True)
    for name, dest in (
        ("evaluation/compute_metrics.py", code / "compute_metrics.py"),
        ("timelens/utils.py", code / "timelens" / "utils.py"),
    ):
        shown = subprocess.run(
            ["git", f"--git-dir={MIRROR}", "show", f"main:{name}"],
            capture_output=True,
            check=True,
        )
        dest.write_bytes(shown.stdout)
    done = subprocess.run(
        [sys.executable, "compute_metrics.py", "-f", str(predictions)],
        cwd=code,
        env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    names = {"IOU 0.3": "R1@0.3", "IOU 0.5": "R1@0.5", "IOU 0.7": "R1@0.7", "mIOU": "mIoU"}
    numbers = {}
    for line in done.stdout.splitlines():
        label, _, value = line.partition(": ")
        if label in names:
            numbers[names[label]] = float(value)
    assert len(numbers) == 4, done.stdout[-300:]
    return numbers


@needs_data
def test_timechat_matched_only_equals_timelens_compute_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(TIMECHAT), "-b", "charades-sta", "-a", str(CHARADES), "--matched-only"]
    ours = _json(argv, capsys)
    assert ours["matched_only"] is True and ours["n"] == 500
    assert ours["coverage"]["missing"] == 3220
    # the same predictions converted to TimeLens keys, with the GT of the annotation line
    # each TimeChat id names (its 0-based position in charades_sta_test.txt)
    bench = load_benchmark("charades-sta", CHARADES)
    converted = {}
    for qid, item in json.loads(TIMECHAT.read_text()).items():
        sample = bench.samples[int(qid)]
        assert sample.video_id == item["vid"].removesuffix(".mp4")
        key = f"{item['vid']}>>>{item['query']}>>>{json.dumps(list(sample.gt[0]))}"
        converted[key] = {"timestamps": item["timestamp"]}
    assert len(converted) == 500
    path = tmp_path / "timechat_as_timelens.json"
    path.write_text(json.dumps(converted))
    # TimeLens' script run here when TIMELENS_REPO names a checkout (or bare git dir) of
    # TencentARC/TimeLens; otherwise the numbers it printed when recorded
    if MIRROR is not None:
        theirs = _timelens_compute_metrics(path, tmp_path)
        assert theirs == json.loads(RECORDED.read_text())["metrics"]
    else:
        theirs = json.loads(RECORDED.read_text())["metrics"]
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name
    # and the converted file, scored by this project from its keys, agrees too
    again = _json([str(path)], capsys)
    for name, value in theirs.items():
        assert again[name] == pytest.approx(value, abs=1e-9), name
