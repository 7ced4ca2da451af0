"""``timelens-eval score`` and ``benchmarks`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_main
from repo_paths import SHARED_DATA as DATA
from repo_paths import needs_data


def _score_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run_main(["score", *argv, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


@needs_data
def test_moment_detr_matches_published_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    published = json.loads((DATA / "predictions/qvh_val_moment_detr.metrics_raw.json").read_text())
    result = _score_json(
        [
            str(DATA / "predictions/qvh_val_moment_detr.jsonl"),
            "--benchmark",
            "qvhighlights",
            "--annotations",
            str(DATA / "qvhighlights/highlight_val_release.jsonl"),
            "--bootstrap",
            "200",
        ],
        capsys,
    )
    assert round(result["R1@0.5"], 2) == published["brief"]["MR-full-R1@0.5"] == 53.94
    assert round(result["R1@0.7"], 2) == published["brief"]["MR-full-R1@0.7"] == 34.84
    assert result["n"] == 1550 and result["format"] == "moment-detr"
    assert result["coverage"]["missing"] == result["coverage"]["extra"] == 0
    low, high = result["ci"]["R1@0.5"]
    assert low < result["R1@0.5"] < high


@needs_data
def test_benchmarks_info_counts(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        ("charades-sta", "charades_sta/charades_sta_test.txt", 3720, 1334),
        ("activitynet-captions", "activitynet/val_2.json", 17031, 4885),
        ("qvhighlights", "qvhighlights/highlight_val_release.jsonl", 1550, None),
        ("tacos", "tacos/test.json", 4001, 25),
    ]
    for name, rel, queries, videos in cases:
        code, out, err = run_main(
            ["benchmarks", "info", name, "-a", str(DATA / rel), "--json"], capsys
        )
        assert code == 0, err
        info = json.loads(out)
        assert info["queries"] == queries
        if videos is not None:
            assert info["videos"] == videos
        if name == "qvhighlights":
            assert info["multi_window_queries"] == 530
        if name == "charades-sta":
            assert info["gt_beyond_duration"] == 562
            assert info["duration_s"]["min"] <= info["duration_s"]["median"]


def test_benchmarks_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["benchmarks", "list", "--json"], capsys)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["charades-sta"]["pair"] == "charades-timelens"
    assert rows["timelens-100k"]["split"] == "train"


def _timelens_file(tmp_path: Path) -> Path:
    path = tmp_path / "preds.jsonl"
    lines = [
        {"A.mp4>>>open the door>>>[0.0, 10.0]": {"timestamps": [[0.0, 10.0]], "answers": ""}},
        {"A.mp4>>>sit down>>>[10.0, 20.0]": {"answers": "It happens in 10 - 15 seconds."}},
        {"B.mp4>>>eat>>>[5, 9]": {"answers": "no idea"}},
        {"B.mp4>>>eat>>>[5, 9]": {"answers": "5 - 9"}},  # duplicate key: last one kept
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_timelens_jsonl_gt_from_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _score_json([str(_timelens_file(tmp_path)), "--bootstrap", "0"], capsys)
    # IoUs 1.0, 0.5, 1.0 over 3 distinct keys (as TimeLens' dict.update)
    assert result["n"] == 3
    assert result["R1@0.3"] == pytest.approx(100.0)
    assert result["R1@0.7"] == pytest.approx(200.0 / 3)
    assert result["mIoU"] == pytest.approx(250.0 / 3)
    assert result["coverage"]["duplicates"] == 1
    code, _, err = run_main(["score", str(_timelens_file(tmp_path)), "--strict"], capsys)
    assert code == 2 and "duplicate" in err and err.count("\n") == 1


def _bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.json"
    path.write_text(
        json.dumps(
            {
                "A": {
                    "duration": 30,
                    "spans": [[0, 10], [10, 20]],
                    "queries": ["open the door.", "sit  down"],
                },
                "B": {"duration": 20, "spans": [[5, 9]], "queries": ["eat"]},
            }
        )
    )
    return path


def test_own_jsonl_against_benchmark_with_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds = tmp_path / "own.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {"sample_id": "A#0", "answer": "From 0 to 10 seconds."},
                {"sample_id": "A#1", "spans": [[10, 20], [0, 1]]},
                {"sample_id": "Z#9", "answer": "1 - 2"},
            ]
        )
    )
    argv = [str(preds), "-b", "charades-timelens", "-a", str(_bench(tmp_path)), "--bootstrap", "0"]
    result = _score_json(argv, capsys)
    assert result["n"] == 3  # B#0 is missing: scored 0
    assert result["mIoU"] == pytest.approx(200.0 / 3)
    cov = result["coverage"]
    assert (cov["missing"], cov["extra"], cov["missing_ids"], cov["extra_ids"]) == (
        1,
        1,
        ["B#0"],
        ["Z#9"],
    )
    code, _, err = run_main(["score", *argv, "--strict"], capsys)
    assert code == 2 and "1 missing" in err and "1 extra" in err


def test_timelens_keys_matched_to_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        str(_timelens_file(tmp_path)),
        "-b",
        "charades-timelens",
        "-a",
        str(_bench(tmp_path)),
        "--bootstrap",
        "0",
    ]
    result = _score_json(argv, capsys)
    assert result["coverage"]["matched"] == 3 and result["coverage"]["missing"] == 0
    assert result["mIoU"] == pytest.approx(250.0 / 3)


def test_pretty_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["score", str(_timelens_file(tmp_path)), "--bootstrap", "50"], capsys)
    assert code == 0
    assert "R1@0.5" in out and "mIoU" in out and "CI" in out


def test_parse_option_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"v.mp4>>>q>>>[4.2, 9.9]": {"answers": "Start: 4.2s, End: 9.9s"}}))
    default = _score_json([str(path), "--bootstrap", "0"], capsys)
    labelled = _score_json([str(path), "--bootstrap", "0", "-o", "labelled"], capsys)
    assert default["mIoU"] == pytest.approx(100 * (9 - 4.2) / (9.9 - 4))  # read as 4 - 9
    assert labelled["mIoU"] == pytest.approx(100.0)
    assert labelled["protocol"]["parse"]["labelled"] is True
    assert default["protocol"]["parse"]["labelled"] is False


BAD_PREDICTIONS = [
    ("p.json", '{"v.mp4>>>q>>>[1, 2]": {"timestamps": [[1, 2]]', "not valid JSON"),
    ("p.json", "[1, 2, 3]", "item 0 must be a JSON object"),
    ("p.json", '{"v.mp4>>>q>>>[1, 2]": {"timestamps": [[NaN, 2]]}}', "NaN"),
    ("p.json", '{"v.mp4>>>q>>>[1, 2]": {"timestamps": [["a", 2]]}}', "must be a number"),
    ("p.json", '{"v.mp4>>>q>>>[1, 2]": {"other": 1}}', "neither 'timestamps' nor 'answers'"),
    ("p.json", '{"v.mp4>>>q": {"answers": "1 - 2"}}', "key must be"),
    ("p.json", '{"v.mp4>>>q>>>[-1, 2]": {"answers": "1 - 2"}}', "0 <= start <= end"),
    ("p.json", '{"v.mp4>>>q>>>[3, 2]": {"answers": "1 - 2"}}', "0 <= start <= end"),
    ("p.json", '{"v.mp4>>>q>>>[1, 2]": "1 - 2"}', "value must be an object"),
    ("p.jsonl", '{"sample_id": "a", "answer": "1 - 2"}\n{"sample_id": 1.5}', "jsonl:2:"),
    ("p.jsonl", '{"sample_id": "a", "spans": [[1]]}', ":1 (sample a)"),
    ("p.jsonl", '{"qid": 1, "pred_relevant_windows": [[1, Infinity, 0.9]]}', "Infinity"),
    ("p.jsonl", "", "empty prediction file"),
    ("p.txt", '{"a": 1}', "cannot tell the prediction format"),
    ("p.txt", "hello", "not valid JSON"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_PREDICTIONS)
def test_bad_predictions_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run_main(["score", str(path), "--bootstrap", "0"], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert str(path) in err and message in err
    assert "Traceback" not in err + out


def test_key_that_is_not_a_literal_is_never_executed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "executed"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch() or [1, 2]"
    path = tmp_path / "p.json"
    path.write_text(json.dumps({f"v.mp4>>>q>>>{payload}": {"answers": "1 - 2"}}))
    code, _, err = run_main(["score", str(path)], capsys)
    assert code == 2 and "not a literal" in err and "(sample v.mp4>>>q>>>" in err
    assert not marker.exists()


def test_unknown_benchmark_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _timelens_file(tmp_path)
    code, _, err = run_main(["score", str(path), "-b", "charades-st"], capsys)
    assert code == 2 and "did you mean 'charades-sta'" in err
    code, _, err = run_main(["score", str(tmp_path / "none.json")], capsys)
    assert code == 2 and "not found" in err
    code, _, err = run_main(["score", str(path), "--format", "xml"], capsys)
    assert code == 2 and "unknown --format" in err


def test_moment_detr_needs_a_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"qid": 1, "pred_relevant_windows": [[1, 2, 0.9]]}\n')
    code, _, err = run_main(["score", str(path)], capsys)
    assert code == 2 and "--benchmark" in err


def test_console_script_bad_input_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "p.json"
    path.write_text('{"v.mp4>>>q>>>[1, 2]": {"timestamps": [[1, 2]]')  # truncated
    done = subprocess.run(
        [sys.executable, "-m", "timelens_eval", "score", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and "not valid JSON" in done.stderr


def test_benchmarks_info_on_timelens_fixture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "qvh-timelens.json"
    path.write_text(
        json.dumps(
            {
                "a": {
                    "duration": 150,
                    "spans": [[[0, 10], [20, 30]], [5, 160]],
                    "queries": ["x", "y"],
                },
                "b": {"duration": 40, "spans": [[1, 2]], "queries": ["z"]},
            }
        )
    )
    code, out, err = run_main(
        ["benchmarks", "info", "qvhighlights-timelens", "-a", str(path), "--json"], capsys
    )
    assert code == 0, err
    info = json.loads(out)
    assert (info["videos"], info["queries"], info["multi_window_queries"]) == (2, 3, 1)
    assert info["gt_beyond_duration"] == 1
    assert info["duration_s"]["min"] == 40 and info["duration_s"]["max"] == 150
    code, out, _ = run_main(
        ["benchmarks", "info", "qvhighlights-timelens", "-a", str(path)], capsys
    )
    assert code == 0 and "queries" in out


@needs_data
def test_benchmarks_info_clip_gt(capsys: pytest.CaptureFixture[str]) -> None:
    txt = str(DATA / "charades_sta/charades_sta_test.txt")
    code, out, _ = run_main(
        ["benchmarks", "info", "charades-sta", "-a", txt, "--clip-gt", "--json"], capsys
    )
    assert code == 0
    info = json.loads(out)
    assert info["gt_beyond_duration"] == 0 and info["notes"]["gt_clipped"] == 562
