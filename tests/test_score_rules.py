"""How ``score`` matches predictions to samples, what ``--json`` prints, and its options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.cli import main
from timelens_eval.errors import InputError
from timelens_eval.predictions import read_predictions
from timelens_eval.scoring import score_file, score_predictions
from timelens_eval.spans import Span


def _bench(*samples: tuple[str, str, str, tuple[float, float]]) -> Benchmark:
    return Benchmark(
        name="toy",
        samples=[
            Sample(sample_id=sid, video_id=vid, query=q, duration=60.0, gt=(Span(*gt),))
            for sid, vid, q, gt in samples
        ],
        content_hash="toyhash",
    )


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(json.dumps(x) for x in data) + "\n")  # type: ignore[union-attr]
    else:
        path.write_text(json.dumps(data))
    return path


def test_repeated_video_and_query_are_told_apart_by_the_gt_in_the_key(tmp_path: Path) -> None:
    # Charades-STA repeats (video, query) pairs with different windows.
    bench = _bench(
        ("A#0", "A", "person opens door", (0.0, 5.0)),
        ("A#1", "A", "person opens door", (20.0, 30.0)),
        ("B#0", "B", "person sits", (1.0, 2.0)),
    )
    path = _write(
        tmp_path,
        "p.json",
        {
            "A.mp4>>>person opens door>>>[20.0, 30.0]": {"timestamps": [[20.0, 30.0]]},
            "A.mp4>>>person opens door>>>[0.0, 5.0]": {"timestamps": [[0.0, 2.5]]},
            "B.mp4>>>person sits.>>>[1.0, 2.0]": {"answers": "1 - 2"},
        },
    )
    result = score_file(path, bench, bootstrap=0)
    assert result.sample_ids == ["A#0", "A#1", "B#0"]
    np.testing.assert_allclose(result.ious, [0.5, 1.0, 1.0])
    assert result.coverage.matched == 3 and result.benchmark == "toy"
    assert result.benchmark_hash == "toyhash"


def test_one_prediction_claims_one_sample(tmp_path: Path) -> None:
    bench = _bench(("A#0", "A", "q", (0.0, 5.0)), ("A#1", "A", "q", (0.0, 5.0)))
    path = _write(tmp_path, "p.json", {"A.mp4>>>q>>>[0.0, 5.0]": {"timestamps": [[0.0, 5.0]]}})
    result = score_file(path, bench, bootstrap=0)
    assert result.coverage.missing == ["A#1"] and result.coverage.matched == 1
    np.testing.assert_allclose(result.ious, [1.0, 0.0])
    assert result.statuses == ["ok", "error"] and result.summary.errors == 1


def test_moment_detr_falls_back_to_video_and_query_without_qids(tmp_path: Path) -> None:
    bench = _bench(("s1", "vidA", "a dog runs", (0.0, 10.0)), ("s2", "vidB", "a cat", (5, 9)))
    path = _write(
        tmp_path,
        "md.jsonl",
        [
            {
                "qid": 7,
                "vid": "vidA",
                "query": "a dog runs",
                "pred_relevant_windows": [[0, 5, 0.9]],
            },
            {"qid": 8, "vid": "vidB", "query": "a cat", "pred_relevant_windows": [[5, 9, 0.8]]},
        ],
    )
    result = score_file(path, bench, format="moment-detr", bootstrap=0)
    np.testing.assert_allclose(result.ious, [0.5, 1.0])
    assert result.coverage.extra == []


def test_a_timelens_json_with_a_benchmark_is_scored_against_the_benchmark(tmp_path: Path) -> None:
    # The key says [0, 10]; the benchmark says [0, 5]: the benchmark decides.
    bench = _bench(("A#0", "A", "q", (0.0, 5.0)), ("B#0", "B", "r", (0.0, 5.0)))
    path = _write(tmp_path, "p.json", {"A.mp4>>>q>>>[0.0, 10.0]": {"timestamps": [[0.0, 10.0]]}})
    result = score_file(path, bench, bootstrap=0)
    np.testing.assert_allclose(result.ious, [0.5, 0.0])
    assert result.coverage.expected == 2 and result.coverage.missing == ["B#0"]
    assert score_file(path, bootstrap=0).coverage.expected is None  # without: GT from the key


def test_missing_predictions_are_scored_zero_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_file = tmp_path / "bench.jsonl"
    bench_file.write_text(
        "\n".join(
            json.dumps(
                {
                    "qid": q,
                    "vid": v,
                    "query": f"query {q}",
                    "duration": 60,
                    "relevant_windows": [[0, 10]],
                }
            )
            for q, v in ((1, "A"), (2, "A"), (3, "B"))
        )
        + "\n"
    )
    preds = _write(tmp_path, "own.jsonl", [{"sample_id": "1", "spans": [[0, 10]]}])
    code = main(["score", str(preds), "-b", "qvhighlights", "-a", str(bench_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    if code != 0:
        pytest.fail(f"score failed: {out}")
    assert out["missing_scored_zero"] == 2 and out["coverage"]["missing"] == 2
    assert out["n"] == 3 and out["mIoU"] == pytest.approx(100 / 3)


def test_score_json_schema_is_pinned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        "p.json",
        {
            "a.mp4>>>q1>>>[0, 10]": {"answers": "0 - 10", "duration": 20},
            "a.mp4>>>q2>>>[0, 10]": {"answers": "10 - 5", "duration": 20},
            "b.mp4>>>q3>>>[0, 10]": {"answers": "0 - 30", "duration": 20},
            "c.mp4>>>q4>>>[0, 10]": {"answers": "nothing"},
        },
    )
    assert main(["score", str(path), "--json", "--bootstrap", "200", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [
        "R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "n", "n_videos", "parse_failures", "reversed",
        "out_of_range", "missing_scored_zero", "ci", "ci_level", "ci_method", "bootstrap",
        "seed", "coverage", "predictions", "format", "benchmark", "benchmark_hash", "protocol",
    ]  # fmt: skip
    assert (out["n"], out["n_videos"], out["parse_failures"], out["reversed"]) == (4, 3, 1, 1)
    assert (out["out_of_range"], out["missing_scored_zero"]) == (1, 0)
    assert out["R1@0.3"] == 50.0 and out["mIoU"] == pytest.approx(100 * (1 + 1 / 3) / 4)
    assert set(out["ci"]) == {"R1@0.3", "R1@0.5", "R1@0.7", "mIoU"}
    assert all(lo <= out[k] <= hi for k, (lo, hi) in out["ci"].items())
    assert (out["ci_level"], out["bootstrap"], out["seed"]) == (0.95, 200, 3)
    assert out["ci_method"] == "percentile bootstrap over videos"
    assert out["coverage"] == {
        "expected": None, "matched": 4, "missing": 0, "extra": 0, "duplicates": 0,
        "missing_ids": [], "extra_ids": [], "duplicate_ids": [],
    }  # fmt: skip
    assert (out["predictions"], out["format"]) == (str(path), "timelens")
    assert out["benchmark"] is None and out["benchmark_hash"] is None
    assert out["protocol"]["name"] == "timelens" and out["protocol"]["unparsed"] == "zero"


def test_seed_and_unparsed_exclude_reach_the_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {f"v{i % 40}.mp4>>>q{i}>>>[0, 10]": {"answers": f"0 - {i % 13 + 1}"} for i in range(120)}
    data.update({f"w{i}.mp4>>>n{i}>>>[0, 10]": {"answers": "no idea"} for i in range(30)})
    path = _write(tmp_path, "p.json", data)

    def run(*extra: str) -> dict:
        assert main(["score", str(path), "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    one, again, other = run("--seed", "1"), run("--seed", "1"), run("--seed", "2")
    assert one["ci"] == again["ci"] and one["ci"] != other["ci"] and other["seed"] == 2
    excluded = run("--unparsed", "exclude", "--bootstrap", "0")
    assert (excluded["n"], one["n"]) == (120, 150)
    assert excluded["mIoU"] == pytest.approx(one["mIoU"] * 150 / 120)
    assert excluded["protocol"]["unparsed"] == "exclude"
    preds = read_predictions(path)
    assert score_predictions(preds, seed=1).summary == score_file(path, seed=1).summary


@pytest.mark.parametrize(
    "gt",
    ["5", "{1: 2}", "{1, 2}", "[1, 2, 3]", "[]", "'a'", "[1, 2)", "[" + "1" * 60 + ", 2]",
     "__import__('os').system('true')", "[[1, 2], 3]", "[1e999, 2]"],
)  # fmt: skip
def test_a_gt_that_is_not_a_pair_or_list_of_pairs_is_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gt: str
) -> None:
    key = f"v.mp4>>>q>>>{gt}"
    path = _write(tmp_path, "p.json", {key: {"answers": "1 - 2"}})
    assert main(["score", str(path), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and "ground truth" in err
    assert "v.mp4>>>q>>>" in err
    with pytest.raises(InputError):
        read_predictions(path)


@pytest.mark.parametrize(
    "gt", ["[1, 2]", "(1, 2)", " [ 1 , 2 , ] ", "[[1, 2], [3, 4]]", "((1, 2),)"]
)
def test_gt_literal_shapes_that_are_read(tmp_path: Path, gt: str) -> None:
    path = _write(tmp_path, "p.json", {f"v.mp4>>>q>>>{gt}": {"answers": "1 - 2"}})
    assert read_predictions(path).gt[0][0] == (1.0, 2.0)
