"""Benchmark loaders: real files (counts and quirks), own fixtures, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_paths import SHARED_DATA as DATA
from repo_paths import needs_data

from timelens_eval.benchmarks.base import file_sha256, get_benchmark_spec, load_benchmark
from timelens_eval.errors import InputError


def _videos(bench) -> int:
    return len({s.video_id for s in bench.samples})


@needs_data
def test_charades_sta_counts_and_gt_beyond_duration() -> None:
    bench = load_benchmark("charades-sta", DATA / "charades_sta/charades_sta_test.txt")
    assert (len(bench), _videos(bench)) == (3720, 1334)
    assert bench.notes["gt_beyond_duration"] == 562
    first = bench.samples[0]
    assert first.sample_id == "3MSZA#0" and first.gt[0] == (24.3, 30.4)
    # kept by default: some GT ends after the video
    assert sum(s.gt[0].end > s.duration for s in bench.samples) == 562
    clipped = load_benchmark(
        "charades-sta", DATA / "charades_sta/charades_sta_test.txt", clip_gt=True
    )
    assert all(s.gt[0].end <= s.duration for s in clipped.samples)
    assert clipped.notes["gt_clipped"] == 562
    assert len({s.sample_id for s in bench.samples}) == len(bench)
    expected_hash = file_sha256(
        [DATA / "charades_sta/charades_sta_test.txt", DATA / "charades_sta/Charades_v1_test.csv"]
    )
    assert bench.content_hash == expected_hash


@needs_data
def test_charades_durations_option(tmp_path: Path) -> None:
    txt = tmp_path / "c.txt"
    txt.write_text((DATA / "charades_sta/charades_sta_test.txt").read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match="Charades_v1_test.csv"):
        load_benchmark("charades-sta", txt)
    bench = load_benchmark(
        "charades-sta", txt, durations=DATA / "charades_sta/Charades_v1_test.csv"
    )
    assert len(bench) == 1


@needs_data
def test_activitynet_val2_counts_whitespace_and_ids() -> None:
    bench = load_benchmark("activitynet-captions", DATA / "activitynet/val_2.json")
    assert (len(bench), _videos(bench)) == (17031, 4885)
    assert all(s.video_id.startswith("v_") for s in bench.samples)
    assert all(s.query == s.query.strip() and "  " not in s.query for s in bench.samples)
    assert bench.notes["gt_beyond_duration"] == 1
    val1 = load_benchmark("activitynet-captions", DATA / "activitynet/val_1.json")
    assert (len(val1), _videos(val1), val1.split) == (17505, 4917, "val_1")
    assert val1.notes["gt_beyond_duration"] == 5


@needs_data
def test_qvhighlights_multi_window() -> None:
    bench = load_benchmark("qvhighlights", DATA / "qvhighlights/highlight_val_release.jsonl")
    assert len(bench) == 1550
    assert sum(len(s.gt) > 1 for s in bench.samples) == 530
    assert bench.by_id()["2579"].query.startswith("A girl and her mother")


@needs_data
def test_tacos_frames_and_seconds_agree() -> None:
    frames = load_benchmark("tacos", DATA / "tacos/test.json")
    seconds = load_benchmark("tacos", DATA / "tacos/test_seconds.jsonl")
    assert len(frames) == len(seconds) == 4001
    assert _videos(frames) == 25
    assert frames.notes["gt_beyond_duration"] == 5
    for a, b in zip(frames.samples, seconds.samples, strict=True):
        assert a.query == b.query
        assert a.gt[0].start == pytest.approx(b.gt[0].start, abs=1e-6)
        # the seconds release clips the 5 windows that end after the video
        assert min(a.gt[0].end, a.duration) == pytest.approx(b.gt[0].end, abs=1e-6)
        assert a.duration == pytest.approx(b.duration, abs=1e-6)


def _write_bench(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_timelens_bench_fixture_and_query_cleaning(tmp_path: Path) -> None:
    path = _write_bench(
        tmp_path / "charades-timelens.json",
        {
            "AO8RW": {
                "duration": 30.5,
                "spans": [[1.0, 7.5], [22.3, 33.0]],
                "queries": ["  A person   sits\ton a chair.. ", "...eating food."],
            },
            "B1": {"duration": 12, "spans": [[0, 4]], "queries": ["x"]},
        },
    )
    bench = load_benchmark("charades-timelens", path)
    assert [s.sample_id for s in bench.samples] == ["AO8RW#0", "AO8RW#1", "B1#0"]
    assert bench.samples[0].query == "A person sits on a chair"
    assert bench.samples[1].query == "eating food"
    assert bench.samples[1].gt == ((22.3, 33.0),)
    assert bench.notes["gt_beyond_duration"] == 1
    assert bench.variant == "refined" and bench.content_hash == file_sha256(path)
    assert get_benchmark_spec("charades-timelens").pair == "charades-sta"


def test_timelens_100k_fixture(tmp_path: Path) -> None:
    lines = [
        {
            "video_path": "cosmo/a.mp4",
            "duration": 60,
            "source": "cosmo",
            "events": [{"query": "a dog runs.", "span": [[1, 5]]}, {"query": "b", "span": [6, 9]}],
        },
        {
            "video_path": "cosmo/a.mp4",
            "duration": 60,
            "source": "cosmo",
            "events": [{"query": "c", "span": [[10, 12], [20, 22]]}],
        },
    ]
    path = tmp_path / "timelens-100k.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")  # no final \n
    bench = load_benchmark("timelens-100k", path)
    assert [s.sample_id for s in bench.samples] == [
        "cosmo/a.mp4#0",
        "cosmo/a.mp4#1",
        "cosmo/a.mp4#2",
    ]
    assert bench.samples[0].query == "a dog runs"
    assert len(bench.samples[2].gt) == 2
    assert bench.split == "train"


BAD_TIMELENS_BENCH = [
    ('{"v": {"duration": 10, "spans": [[1, 2]], "queries": ["q"]', "not valid JSON"),
    ("not json at all", "not valid JSON"),
    ('{"v": {"duration": NaN, "spans": [[1, 2]], "queries": ["q"]}}', "NaN"),
    ('{"v": {"duration": 10, "spans": [[1, Infinity]], "queries": ["q"]}}', "Infinity"),
    ('{"v": {"duration": 10, "spans": [[-1, 2]], "queries": ["q"]}}', ">= 0"),
    ('{"v": {"duration": 10, "spans": [[5, 2]], "queries": ["q"]}}', "after its end"),
    ('{"v": {"duration": 10, "spans": [["1", 2]], "queries": ["q"]}}', "must be a number"),
    ('{"v": {"duration": 10, "queries": ["q"]}}', "missing field 'spans'"),
    ('{"v": {"duration": 10, "spans": [[1, 2]], "queries": [3]}}', "query must be a string"),
    ('{"v": {"duration": "10", "spans": [[1, 2]], "queries": ["q"]}}', "'duration' must be"),
    ('{"v": {"duration": 10, "spans": [[1, 2], [3, 4]], "queries": ["q"]}}', "2 spans but 1"),
    ("[1, 2]", "expected a JSON object"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TIMELENS_BENCH)
def test_bad_timelens_bench_names_file_and_sample(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_benchmark("activitynet-timelens", path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


BAD_JSONL = [
    (
        '{"qid": 1, "query": "q", "duration": 150, "vid": "v", "relevant_windows": [[0, 2]]}'
        '\n{"qid"',
        ":2:",
    ),
    ('{"qid": 1, "query": "q", "duration": 150, "vid": "v"}', "missing field 'relevant_windows'"),
    (
        '{"qid": 1, "query": "q", "duration": 150, "vid": "v", "relevant_windows": [[4, 2]]}',
        "after its end",
    ),
    ('{"qid": 1, "query": "q", "duration": -5, "vid": "v", "relevant_windows": [[0, 2]]}', ">= 0"),
    (
        '{"qid": 1, "query": 7, "duration": 150, "vid": "v", "relevant_windows": [[0, 2]]}',
        "'query' must be str",
    ),
    ('["a"]', "expected a JSON object"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JSONL)
def test_bad_qvhighlights_names_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_benchmark("qvhighlights", path)
    assert f"{path}:" in str(info.value)


def test_bad_charades_line(tmp_path: Path) -> None:
    (tmp_path / "Charades_v1_test.csv").write_text("id,length\nAAA,30.0\n")
    path = tmp_path / "c.txt"
    path.write_text("AAA 1.0 5.0##ok.\nAAA 9.0 5.0##reversed.\n")
    with pytest.raises(InputError, match=r"c\.txt:2: start 9 is after end 5"):
        load_benchmark("charades-sta", path)
    path.write_text("AAA 1.0##broken\n")
    with pytest.raises(InputError, match=r"c\.txt:1: expected 'VIDEO START END##sentence'"):
        load_benchmark("charades-sta", path)
    path.write_text("BBB 1.0 2.0##no duration\n")
    with pytest.raises(InputError, match="has no length"):
        load_benchmark("charades-sta", path)


def test_missing_default_file_says_where_and_official(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMELENS_EVAL_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(InputError) as info:
        load_benchmark("qvhighlights")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "qvhighlights" / "highlight_val_release.jsonl") in message
    assert "github.com/jayleicn/moment_detr" in message
