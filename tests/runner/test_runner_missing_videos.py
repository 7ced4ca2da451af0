"""Missing videos stop a run before its first request; ``--allow-missing`` runs the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from timelens_eval.adapters import build_adapter
from timelens_eval.benchmarks import load_benchmark
from timelens_eval.cli import main
from timelens_eval.metrics import summarize
from timelens_eval.runner import RunOptions, run_benchmark
from timelens_eval.runner.preflight import MissingVideosError
from timelens_eval.store import read_result, read_sample_records
from timelens_eval.synthetic.generate import generate_split
from timelens_eval.synthetic.plan import SplitConfig
from timelens_eval.synthetic.scenes import SceneConfig


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SplitConfig(seed=5, videos=3, scene=SceneConfig(min_duration=8, max_duration=9))
    return generate_split(config, tmp_path_factory.mktemp("split")).root


@pytest.fixture
def copy(split: Path, tmp_path: Path) -> Path:
    """A copy of the split with its first video removed; returns the annotation file."""
    shutil.copytree(split, tmp_path / "split")
    gone = sorted((tmp_path / "split/videos").glob("*.mp4"))[0]
    gone.unlink()
    return tmp_path / "split" / "synthetic-refined.json"


def _argv(annotations: Path, out: Path, *extra: str) -> list[str]:
    return [
        "run",
        "-a",
        "mock",
        "--adapter-args",
        "frames=true",
        "-b",
        "synthetic-refined",
        "--annotations",
        str(annotations),
        "--output",
        str(out),
        "--no-progress",
        "--bootstrap",
        "0",
        *extra,
    ]


def test_a_missing_video_stops_the_run_before_anything_happens(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "r.json"
    assert main(_argv(copy, out)) == 2
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    folder = copy.parent / "videos"
    remaining = sorted(folder.glob("*.mp4"))
    assert line.startswith("error: synthetic-refined: 1 of 3 videos are missing (")
    assert str(folder / "test0000.mp4") in line and f"folder searched: {folder}" in line
    assert "--allow-missing" in line and len(remaining) == 2
    assert not out.parent.exists()  # no spec, no samples, no header


def test_the_library_raises_before_the_first_request(copy: Path, tmp_path: Path) -> None:
    adapter = build_adapter("mock", "frames=true")
    bench = load_benchmark("synthetic-refined", copy)
    with pytest.raises(MissingVideosError, match="1 of 3 videos are missing"):
        run_benchmark(adapter, bench, RunOptions(output=tmp_path / "o.json", bootstrap=0))
    assert adapter.calls == {} and not (tmp_path / "o.json.spec").exists()


def test_allow_missing_records_errors_that_no_metric_counts(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "r.json"
    assert main(_argv(copy, out, "--allow-missing")) == 0
    err = capsys.readouterr().err
    bench = load_benchmark("synthetic-refined", copy)
    skipped = [s.sample_id for s in bench.samples if s.video_id == "test0000"]
    assert skipped and f"{len(skipped)} with a missing video, left out of the metrics" in err
    records = read_sample_records(out.with_suffix(".samples.jsonl"))
    assert len(records) == len(bench.samples)  # nothing dropped from the per-sample file
    gone = [r for r in records if r.meta.get("missing_video")]
    assert sorted(r.sample_id for r in gone) == sorted(skipped)
    assert all(r.status == "error" and "video not found" in (r.error or "") for r in gone)
    assert all(r.attempts == 0 and r.answer is None for r in gone)

    summary = read_result(out).summary
    assert summary.missing_videos == len(skipped)
    assert summary.n == len(bench.samples) - len(skipped) and summary.errors == 0
    kept = [r for r in records if not r.meta.get("missing_video")]
    expected = summarize(
        [r.iou for r in kept], [r.status for r in kept], [r.video_id for r in kept]
    )
    as_zero = summarize(
        [r.iou for r in records], [r.status for r in records], [r.video_id for r in records]
    )
    for name, metric in summary.metrics.items():
        assert metric.value == pytest.approx(expected.metrics[name].value)
    assert summary.metrics["mIoU"].value != pytest.approx(as_zero.metrics["mIoU"].value)


def test_baselines_do_not_read_videos_and_are_not_stopped(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "u.json"
    argv = ["run", "-a", "uniform", "-b", "synthetic-refined", "--annotations", str(copy)]
    assert main([*argv, "--output", str(out), "--no-progress", "--bootstrap", "0"]) == 0
    capsys.readouterr()
    summary = read_result(out).summary
    assert summary.n == len(load_benchmark("synthetic-refined", copy).samples)
    assert summary.missing_videos is None


def test_which_adapters_have_their_videos_checked() -> None:
    from timelens_eval.adapters import Adapter, GroundingOutput
    from timelens_eval.runner.preflight import reads_video

    class FileReader(Adapter):  # e.g. an API that uploads the video file itself
        name = "file-reader"
        needs_frames = False

        async def ground(self, request):  # noqa: ANN001, ANN201
            return GroundingOutput(text="0 - 1")

    assert reads_video(FileReader())
    assert reads_video(build_adapter("mock", "frames=true"))  # takes frames
    assert not reads_video(build_adapter("uniform")) and not reads_video(build_adapter("mock"))
    FileReader.reads_video = False  # answers from the query and duration alone
    assert not reads_video(FileReader())
    declared = build_adapter("mock")
    declared.reads_video = True
    assert reads_video(declared)
