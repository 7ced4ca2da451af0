"""TimeLens-100K: reversed and empty windows are dropped and counted; ``--strict`` refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from timelens_eval.benchmarks import load_benchmark
from timelens_eval.cli import main
from timelens_eval.errors import InputError

LINES = [
    {
        "video_path": "didemo/a.mp4",
        "duration": 30,
        "source": "didemo",
        "events": [
            {"query": "kept.", "span": [[1, 5]]},
            {"query": "reversed", "span": [9, 6]},  # dropped: its only window is reversed
            {"query": "one of two", "span": [[3, 3], [4, 8]]},  # the empty window goes
        ],
    },
    {
        "video_path": "hirest/b.mp4",
        "duration": 40,
        "source": "hirest",
        "events": [{"query": "no window", "span": []}, {"query": "last", "span": [2, 4]}],
    },
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    out = tmp_path / "timelens-100k.jsonl"
    out.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    return out


def test_bad_windows_are_dropped_counted_and_ids_do_not_shift(path: Path) -> None:
    bench = load_benchmark("timelens-100k", path)
    assert [s.sample_id for s in bench.samples] == [
        "didemo/a.mp4#0",
        "didemo/a.mp4#2",
        "hirest/b.mp4#1",
    ]
    assert [list(map(tuple, s.gt)) for s in bench.samples] == [[(1, 5)], [(4, 8)], [(2, 4)]]
    assert bench.notes["spans_reversed"] == 1 and bench.notes["spans_empty"] == 1
    assert bench.notes["events_dropped"] == 2
    assert bench.notes["sources"] == {"didemo": 2, "hirest": 1}


def test_benchmarks_info_shows_the_counts_and_strict_refuses(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["benchmarks", "info", "timelens-100k", "-a", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["queries"] == 3
    assert info["notes"] | {"sources": None} == {
        "gt_beyond_duration": 0,
        "sources": None,
        "spans_reversed": 1,
        "spans_empty": 1,
        "events_dropped": 2,
    }
    assert main(["benchmarks", "info", "timelens-100k", "-a", str(path), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {path}:1 (sample didemo/a.mp4#1): window [9, 6] is reversed (start after "
        "end); without --strict it is dropped, as TimeLens' training loader drops it\n"
    )


@pytest.mark.parametrize(
    ("span", "message"),
    [([[3, 3]], "is empty"), ([], "event has no window")],
)
def test_strict_names_each_kind(tmp_path: Path, span: list, message: str) -> None:
    path = tmp_path / "t.jsonl"
    line = {"video_path": "v.mp4", "duration": 9, "events": [{"query": "q", "span": span}]}
    path.write_text(json.dumps(line))
    with pytest.raises(InputError, match=message):
        load_benchmark("timelens-100k", path, strict=True)
    with pytest.raises(InputError, match="no samples in file"):  # all dropped without it
        load_benchmark("timelens-100k", path)


def test_malformed_windows_are_still_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    line = {"video_path": "v.mp4", "duration": 9, "events": [{"query": "q", "span": [-1, 3]}]}
    path.write_text(json.dumps(line))
    with pytest.raises(InputError, match="start must be >= 0"):
        load_benchmark("timelens-100k", path)
