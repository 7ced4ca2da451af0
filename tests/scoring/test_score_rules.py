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
from timelens_eval.protocol import ParseOptions, Protocol
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
        "seed", "coverage", "predictions", "format", "format_detected", "matched_only",
        "benchmark", "benchmark_hash", "protocol",
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
    assert out["format_detected"] is True and out["matched_only"] is False
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


def _bench4() -> Benchmark:
    return _bench(
        ("A#0", "A", "q", (0.0, 5.0)),
        ("A#1", "A", "q", (0.0, 30.0)),
        ("A#2", "A", "q", (0.5, 5.5)),
        ("B#0", "B", "r", (10.0, 20.0)),
    )


def test_the_gt_in_the_key_must_match_both_ends_closely(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p.json",
        {
            "A.mp4>>>q>>>[0.0, 30.0]": {"timestamps": [[0.0, 30.0]]},  # start matches A#0 too
            "A.mp4>>>q>>>[0.5, 5.5]": {"timestamps": [[0.5, 5.5]]},  # within a second of A#0
            "C.mp4>>>s>>>[1, 2]": {"timestamps": [[1, 2]]},  # no such sample
        },
    )
    result = score_file(path, _bench4(), bootstrap=0)
    assert result.statuses == ["error", "ok", "ok", "error"]  # A#0 and B#0 missing
    assert result.coverage.extra == ["C.mp4>>>s>>>[1, 2]"]
    assert result.coverage.missing == ["A#0", "B#0"]


def test_equal_keys_after_cleaning_claim_two_samples_in_order(tmp_path: Path) -> None:
    bench = _bench(("A#0", "A", "q", (0.0, 5.0)), ("A#1", "A", "q", (0.0, 5.0)))
    path = _write(
        tmp_path,
        "p.json",
        {
            "A.mp4>>>q>>>[0.0, 5.0]": {"timestamps": [[0.0, 5.0]]},
            "A.mp4>>>q.>>>[0.0, 5.0]": {"timestamps": [[0.0, 2.5]]},  # same query once cleaned
        },
    )
    result = score_file(path, bench, bootstrap=0)
    np.testing.assert_allclose(result.ious, [1.0, 0.5])
    assert result.coverage.complete


def test_moment_detr_qids_win_over_video_and_query(tmp_path: Path) -> None:
    bench = _bench(("1", "vidA", "a dog", (0.0, 10.0)), ("2", "vidB", "a cat", (5.0, 9.0)))
    path = _write(
        tmp_path,
        "md.jsonl",
        [{"qid": 1, "vid": "vidB", "query": "a cat", "pred_relevant_windows": [[0, 10, 1]]}],
    )
    result = score_file(path, bench, bootstrap=0)
    np.testing.assert_allclose(result.ious, [1.0, 0.0])


def test_missing_first_then_found_and_benchmark_durations_and_duplicates(tmp_path: Path) -> None:
    bench = _bench(("A#0", "A", "q", (0.0, 5.0)), ("B#0", "B", "r", (10.0, 20.0)))
    path = _write(
        tmp_path,
        "own.jsonl",
        [
            {"sample_id": "B#0", "answer": "0 - 5"},
            {"sample_id": "B#0", "answer": "10 - 70"},  # past the video's 60 s; kept (last)
        ],
    )
    result = score_file(path, bench, bootstrap=0)
    assert result.statuses == ["error", "out_of_range"]
    np.testing.assert_allclose(result.ious, [0.0, 10 / 60])
    assert result.coverage.duplicates == ["B#0"]
    tolerant = Protocol(out_of_range_tolerance=15.0)
    assert score_file(path, bench, protocol=tolerant, bootstrap=0).statuses == ["error", "ok"]
    with pytest.raises(InputError) as info:
        score_file(path, bench, bootstrap=0, strict=True)
    assert str(info.value) == (
        f"{path}: incomplete predictions under --strict: 1 missing (first: 'A#0'), "
        "1 duplicate (first: 'B#0')"
    )
    assert score_predictions(read_predictions(path), bench).coverage.missing == ["A#0"]


def test_out_of_range_tolerance_on_the_column_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "p.json", {"v.mp4>>>q>>>[0, 10]": {"answers": "0 - 62", "duration": 60}}
    )
    assert score_file(path, bootstrap=0).statuses == ["out_of_range"]
    tolerant = Protocol(out_of_range_tolerance=5.0)
    assert score_file(path, protocol=tolerant, bootstrap=0).statuses == ["ok"]


def test_parse_options_on_parsed_spans_and_raw_answers_of_the_general_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p.jsonl",
        [
            {"v1.mp4>>>q1>>>[0, 10]": {"timestamps": [[0.4, 9.6]], "duration": 60}},
            {"v2.mp4>>>q2>>>[0.5, 10]": {"timestamps": [[0.2, 10]], "duration": 9.5}},
            {"v3.mp4>>>q3>>>[0, 10]": {"timestamps": [[7, 3]], "answers": "0 - 10"}},
            {"v4.mp4>>>q4>>>[50, 60]": {"answers": "50 - 80", "duration": 60}},
        ],
    )
    rounded = score_file(
        path, protocol=Protocol(parse=ParseOptions(round_to_seconds=True)), bootstrap=0
    )
    np.testing.assert_allclose(rounded.ious[:2], [1.0, 9.5 / 10])
    clip = Protocol(parse=ParseOptions(clip_to_duration=True))
    clipped = score_file(path, protocol=clip, bootstrap=0)
    np.testing.assert_allclose(clipped.ious, [9.2 / 10, 9.0 / 9.8, 1.0, 1.0])
    swap = score_file(path, protocol=Protocol(parse=ParseOptions(swap_reversed=True)), bootstrap=0)
    np.testing.assert_allclose(swap.ious, [9.2 / 10, 9.5 / 9.8, 1.0, 10 / 30])
    assert swap.statuses[1] == "out_of_range"  # not clipped: the option is off


def test_which_path_scores_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timelens_eval.scoring as scoring

    calls: list[str] = []
    real = scoring.score_timelens_columns
    monkeypatch.setattr(
        scoring, "score_timelens_columns", lambda *a, **k: calls.append("columns") or real(*a, **k)
    )
    path = _write(tmp_path, "p.json", {"A.mp4>>>q>>>[0.0, 5.0]": {"answers": "0 - 5"}})
    score_file(path, bootstrap=0)
    score_file(path, format="timelens", bootstrap=0)
    assert calls == ["columns", "columns"]
    score_file(path, _bench(("A#0", "A", "q", (0.0, 5.0))), bootstrap=0)  # benchmark
    score_file(path, protocol=Protocol(parse=ParseOptions(units=True)), bootstrap=0)  # options
    jsonl = _write(tmp_path, "p.jsonl", [{"A.mp4>>>q>>>[0.0, 5.0]": {"answers": "0 - 5"}}])
    score_file(jsonl, bootstrap=0)
    assert calls == ["columns", "columns"]
    own = _write(tmp_path, "own.json", {"sample_id": "A#0", "answer": "0 - 5"})
    forced = score_file(own, _bench(("A#0", "A", "q", (0.0, 5.0))), format="jsonl", bootstrap=0)
    assert forced.format == "jsonl" and forced.ious.tolist() == [1.0]


def test_seed_ci_and_protocol_reach_both_paths(tmp_path: Path) -> None:
    values = {f"v{i % 7}.mp4>>>q{i}>>>[0, 10]": {"answers": f"0 - {i % 9 + 1}"} for i in range(40)}
    values["w.mp4>>>none>>>[0, 10]"] = {"answers": "no span"}
    json_path = _write(tmp_path, "p.json", values)
    jsonl_path = _write(tmp_path, "p.jsonl", [{k: v} for k, v in values.items()])
    for path in (json_path, jsonl_path):
        seeded = score_file(path, seed=3, bootstrap=100)
        assert seeded.summary == score_file(path, seed=3, bootstrap=100).summary
        assert seeded.summary != score_file(path, bootstrap=100).summary
        assert (
            score_file(path, bootstrap=100).summary
            == score_file(path, seed=0, bootstrap=100).summary
        )
        assert score_file(path, ci="analytic").summary.ci_method.startswith("cluster-robust")
        excluded = score_file(path, protocol=Protocol(unparsed="exclude"), bootstrap=0)
        assert excluded.summary.n == 40
    preds = read_predictions(jsonl_path)
    assert score_predictions(preds).summary == score_predictions(preds, seed=0).summary
    assert score_predictions(preds, ci="analytic").summary.ci_method.startswith("cluster")


def test_nothing_to_score_and_errors_name_the_file(tmp_path: Path) -> None:
    empty = _write(tmp_path, "empty.jsonl", [])
    empty.write_text("")
    with pytest.raises(InputError) as info:
        score_predictions(read_predictions(_write(tmp_path, "e.json", {})))
    assert str(info.value) == f"{tmp_path / 'e.json'}: nothing to score"
    bad = _write(tmp_path, "bad.jsonl", [{"v.mp4>>>q>>>[5, 2]": {"answers": "1 - 2"}}])
    with pytest.raises(InputError) as info:
        score_file(bad)
    assert str(info.value).startswith(f"{bad}:1 (sample v.mp4>>>q>>>[5, 2]): ground truth")
    md = _write(tmp_path, "md.jsonl", [{"qid": 1, "pred_relevant_windows": [[0, 1, 1]]}])
    from timelens_eval.errors import ConfigError

    with pytest.raises(ConfigError) as config_info:
        score_file(md)
    assert str(config_info.value) == (
        "moment-detr predictions carry no ground truth; pass --benchmark NAME --annotations FILE"
    )
    from timelens_eval.predictions import read_timelens_columns
    from timelens_eval.scoring import score_timelens_columns

    cols = read_timelens_columns(
        _write(tmp_path, "c.json", {"v.mp4>>>q>>>[0, 1]": {"answers": "0 - 1"}})
    )
    with pytest.raises(
        ConfigError, match="^the column path only serves the default parse options$"
    ):
        score_timelens_columns(cols, Protocol(parse=ParseOptions(units=True)))
    default = score_timelens_columns(cols)
    assert default.summary == score_timelens_columns(cols, bootstrap=1000, seed=0).summary


def test_score_json_with_a_benchmark_and_without_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_file = tmp_path / "bench.jsonl"
    bench_file.write_text(
        json.dumps(
            {"qid": 1, "vid": "A", "query": "q", "duration": 60, "relevant_windows": [[0, 10]]}
        )
        + "\n"
    )
    preds = _write(tmp_path, "own.jsonl", [{"sample_id": "1", "spans": [[0, 10]]}])
    argv = ["score", str(preds), "-b", "qvhighlights", "-a", str(bench_file), "--json"]
    assert main([*argv, "--bootstrap", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"] == "qvhighlights" and len(out["benchmark_hash"]) == 64
    assert out["ci"] == {"R1@0.3": None, "R1@0.5": None, "R1@0.7": None, "mIoU": None}
    assert out["ci_level"] is None and out["ci_method"] is None and out["bootstrap"] is None
    assert out["coverage"]["matched"] == 1 and out["coverage"]["expected"] == 1


def test_gt_tolerance_is_a_thousandth_of_a_second_on_each_end(tmp_path: Path) -> None:
    bench = _bench(
        ("A#0", "A", "q", (0.0, 5.0)),
        ("A#1", "A", "q", (0.5, 5.0)),  # the key's start is half a second from A#0's
        ("A#2", "A", "q", (0.001, 5.0)),  # a thousandth from A#0's: not close
        ("B#0", "B", "r", (1.0, 5.5)),
        ("B#1", "B", "r", (1.0, 5.0)),  # the key's end is half a second from B#0's
        ("C#0", "C", "s", (0.0, 0.0)),
        ("C#1", "C", "s", (0.0, 0.001)),
    )
    path = _write(
        tmp_path,
        "p.json",
        {
            "A.mp4>>>q>>>[0.5, 5.0]": {"timestamps": [[0.5, 5.0]]},
            "A.mp4>>>q.>>>[0.001, 5.0]": {"timestamps": [[0.001, 5.0]]},
            "B.mp4>>>r>>>[1.0, 5.0]": {"timestamps": [[1.0, 5.0]]},
            "C.mp4>>>s>>>[0.0, 0.001]": {"timestamps": [[0.0, 0.001]]},
        },
    )
    result = score_file(path, bench, bootstrap=0)
    assert result.coverage.missing == ["A#0", "B#0", "C#0"]


def test_clip_keeps_sub_second_ends_and_general_path_counts_matches(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p.jsonl",
        [
            {"v.mp4>>>q>>>[0.2, 0.6]": {"timestamps": [[0.2, 0.6]], "duration": 60}},
            {"w.mp4>>>r>>>[0.2, 0.6]": {"answers": "0.2 - 0.6", "duration": 60}},
        ],
    )
    clip = Protocol(parse=ParseOptions(clip_to_duration=True))
    result = score_file(path, protocol=clip, bootstrap=0)
    np.testing.assert_allclose(result.ious, [1.0, 1.0])
    assert result.coverage.matched == 2 and result.to_dict()["coverage"]["matched"] == 2


def test_score_dict_holds_json_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.json", {"v.mp4>>>q>>>[0, 1]": {"answers": "0 - 1"}})
    out = score_file(path, bootstrap=0).to_dict()
    assert out["protocol"]["thresholds"] == [0.3, 0.5, 0.7]  # a list, as JSON has it
    assert out["protocol"]["parse"] == {
        "labelled": False, "units": False, "swap_reversed": False,
        "round_to_seconds": False, "clip_to_duration": False,
    }  # fmt: skip
