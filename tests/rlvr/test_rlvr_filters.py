"""TimeLens' training-data filters: each rule at its edges, the counts, and their place
before difficulty estimation, sampling and training."""

from __future__ import annotations

import json

import pytest

from timelens_eval.cli import main
from timelens_eval.errors import InputError
from timelens_eval.rlvr.filters import (
    AUDIO_KEYWORDS,
    DataFilters,
    drop_reason,
    filter_samples,
    is_audio_query,
)

FILTERS = DataFilters()
WORDS_200 = " ".join(["word"] * 200)

REASON_TABLE = [
    # (query, duration, spans, reason)
    ("a man opens the door", 30.0, [[1, 2]], None),
    ("a man hears a knock", 30.0, [[1, 2]], "audio"),
    ("what sounds come from the car?", 30.0, [[1, 2]], "audio"),
    ("the dog barks, you can hear?", 30.0, [[1, 2]], "audio"),  # "?" stripped from the query
    ("Sound of rain on the roof", 30.0, [[1, 2]], "audio"),  # lower-cased
    ("a soundtrack plays", 30.0, [[1, 2]], None),  # whole words only
    ("he hears, then leaves", 30.0, [[1, 2]], None),  # "hears," is not "hears" (as TimeLens)
    (WORDS_200, 30.0, [[1, 2]], None),
    (WORDS_200 + " more", 30.0, [[1, 2]], "too_many_words"),
    ("a man opens the door", 5.0, [[1, 2]], None),  # both duration bounds are kept
    ("a man opens the door", 4.99, [[1, 2]], "too_short"),
    ("a man opens the door", 500.0, [[1, 2]], None),
    ("a man opens the door", 500.01, [[1, 2]], "too_long"),
    ("a man opens the door", 30.0, [[1, 30.0]], None),  # a window ending at the end
    ("a man opens the door", 30.0, [[25, 31], [1, 2]], None),  # one window inside suffices
    ("a man opens the door", 30.0, [[25, 31]], "span_outside"),
    ("a man opens the door", 30.0, [[-1, 2]], "span_outside"),
    ("a man opens the door", 30.0, [[3, 2]], "span_outside"),
    ("he hears it", 3.0, [[5, 9]], "audio"),  # the first reason counts
]


@pytest.mark.parametrize(("query", "duration", "spans", "reason"), REASON_TABLE)
def test_each_filter_drops_what_timelens_drops(query, duration, spans, reason) -> None:  # type: ignore[no-untyped-def]
    assert drop_reason(query, duration, spans, FILTERS) == reason


def test_filters_can_be_turned_off_one_by_one_or_all() -> None:
    assert set(AUDIO_KEYWORDS) == {
        "hear", "heard", "hears", "hearing", "sound", "sounded", "sounds", "sounding", "audio",
    }  # fmt: skip
    assert is_audio_query("I heard it") and not is_audio_query("I listened")
    quiet = DataFilters(audio_keywords=())
    assert drop_reason("a man hears a knock", 30.0, [[1, 2]], quiet) is None
    assert drop_reason("x", 600.0, [[1, 2]], DataFilters(max_duration=None)) is None
    assert drop_reason("x", 30.0, [[40, 50]], DataFilters(require_span_inside=False)) is None
    assert drop_reason("he hears it", 1.0, [[5, 9]], DataFilters(enabled=False)) is None


def _write_100k(path, videos):  # type: ignore[no-untyped-def]
    """A TimeLens-100K-format JSONL: one video a line with its events."""
    with open(path, "w", encoding="utf-8") as fh:
        for video, duration, events in videos:
            record = {"video_path": video, "duration": duration, "source": "test"}
            record["events"] = [{"query": q, "span": span} for q, span in events]
            fh.write(json.dumps(record) + "\n")


POOL = [
    ("a.mp4", 30.0, [("a man opens the door", [1, 5]), ("a man hears a knock", [6, 9])]),
    ("b.mp4", 3.0, [("a cat jumps", [0.5, 1.0])]),
    ("c.mp4", 620.0, [("a car drives away", [10, 20])]),
    ("d.mp4", 60.0, [(WORDS_200 + " more", [1, 2]), ("a bird lands", [61, 70])]),
    ("e.mp4", 45.0, [("a woman waves", [[2, 4], [50, 55]]), ("people clap", [10, 12])]),
]


def test_the_report_counts_every_drop_with_example_ids(tmp_path) -> None:
    from timelens_eval.rlvr.data import filtered_benchmark

    annotations = tmp_path / "timelens-100k.jsonl"
    _write_100k(annotations, POOL)
    bench, report = filtered_benchmark("timelens-100k", FILTERS, annotations=annotations)
    assert [s.sample_id for s in bench.samples] == ["a.mp4#0", "e.mp4#0", "e.mp4#1"]
    assert report.total == 8 and report.kept == 3
    assert report.dropped == {
        "audio": 1, "too_many_words": 1, "too_short": 1, "too_long": 1, "span_outside": 1,
    }  # fmt: skip
    assert report.examples["span_outside"] == ["d.mp4#1"]
    assert report.summary() == (
        "kept 3 of 8 (audio 1, too_many_words 1, too_short 1, too_long 1, span_outside 1)"
    )
    # The filters are part of the filtered pool's identity: a resumed run with other
    # filters is a different benchmark.
    loose, _ = filtered_benchmark(
        "timelens-100k", DataFilters(audio_keywords=()), annotations=annotations
    )
    assert len(loose.samples) == 4 and loose.content_hash != bench.content_hash


def test_difficulty_runs_on_the_filtered_pool_and_reports_it(tmp_path, capsys) -> None:
    """`rlvr estimate-difficulty` filters before the model runs; the sampler then draws
    from the filtered pool only; training refuses a selection the filters drop."""
    annotations = tmp_path / "timelens-100k.jsonl"
    _write_100k(annotations, POOL)
    header = tmp_path / "difficulty" / "uniform.json"
    code = main(
        [
            "rlvr", "estimate-difficulty", "-a", "uniform", "-b", "timelens-100k",
            "--annotations", str(annotations), "--split", "", "-o", str(header),
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "data filters: kept 3 of 8 (audio 1, too_many_words 1" in out
    report = json.loads((header.parent / "filters.json").read_text())
    assert report["kept"] == 3 and report["dropped"]["too_long"] == 1
    samples = next(header.parent.glob("*.samples.jsonl"))
    ids = [json.loads(line)["sample_id"] for line in samples.read_text().splitlines()]
    assert sorted(ids) == ["a.mp4#0", "e.mp4#0", "e.mp4#1"]

    # Without the filters every sample is run (and the sampler could pick the audio one).
    unfiltered = tmp_path / "difficulty-all" / "uniform.json"
    main(
        [
            "rlvr", "estimate-difficulty", "-a", "uniform", "-b", "timelens-100k",
            "--annotations", str(annotations), "--split", "", "-o", str(unfiltered),
            "--no-progress", "--no-filters",
        ]
    )  # fmt: skip
    every = next(unfiltered.parent.glob("*.samples.jsonl")).read_text().splitlines()
    assert len(every) == 8

    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.data import load_training_samples

    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps({"sample_ids": ["a.mp4#0", "a.mp4#1"]}))
    config = RLVRConfig.model_validate(
        {
            "name": "x",
            "model": "m",
            "output_dir": str(tmp_path / "run"),
            "data": {
                "benchmark": "timelens-100k",
                "annotations": str(annotations),
                "selection": str(selection),
            },
        }
    )
    with pytest.raises(InputError, match=r"1 selected samples are not in timelens-100k after"):
        load_training_samples(config)
    selection.write_text(json.dumps({"sample_ids": ["e.mp4#1", "a.mp4#0"]}))
    _, samples = load_training_samples(config)
    assert [s.sample_id for s in samples] == ["e.mp4#1", "a.mp4#0"]


def test_filter_samples_keeps_order_and_counts(tmp_path) -> None:
    from timelens_eval.benchmarks import load_benchmark

    annotations = tmp_path / "timelens-100k.jsonl"
    _write_100k(annotations, POOL)
    bench = load_benchmark("timelens-100k", annotations)
    kept, report = filter_samples(bench.samples, FILTERS)
    assert [s.sample_id for s in kept] == ["a.mp4#0", "e.mp4#0", "e.mp4#1"]
    assert sum(report.dropped.values()) + report.kept == report.total == len(bench.samples)
