"""Rendering, determinism, the loader, the cache and the CLI of the synthetic benchmark."""

from __future__ import annotations

import json
import random
from pathlib import Path

import av
import numpy as np
import pytest

from timelens_eval.benchmarks import file_sha256, load_benchmark
from timelens_eval.cli import main
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.synthetic import generate as generate_module
from timelens_eval.synthetic.generate import cache_root, ensure_split, generate_split
from timelens_eval.synthetic.plan import SplitConfig, plan_split
from timelens_eval.synthetic.render import render_frame
from timelens_eval.synthetic.scenes import Event, Scene, SceneConfig, SceneObject


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    out = tmp_path_factory.mktemp("split")
    return generate_split(SplitConfig(seed=5, videos=4), out)


def test_generation_is_byte_for_byte_deterministic(small_split, tmp_path):
    again = generate_split(SplitConfig(seed=5, videos=4), tmp_path / "again", workers=2)
    first, second = _tree_bytes(small_split.root), _tree_bytes(again.root)
    assert len(first) == 4 + 3  # videos, two annotation files, manifest
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    other = generate_split(SplitConfig(seed=6, videos=1), tmp_path / "other")
    assert (other.root / "videos" / "test0000.mp4").read_bytes() != first["videos/test0000.mp4"]


def test_every_video_decodes_with_its_planned_frames(small_split):
    for scene in small_split.plan.scenes:
        path = small_split.root / "videos" / f"{scene.video_id}.mp4"
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.width, stream.height) == (224, 160)
            times = [frame.time for frame in container.decode(stream)]
        fps = scene.config.fps
        assert len(times) == scene.num_frames == round(scene.duration * fps)
        assert times == pytest.approx([i / fps for i in range(scene.num_frames)])
        assert times[-1] + 1 / fps == pytest.approx(scene.duration)


def _one_object_scene() -> Scene:
    config = SceneConfig()
    obj = SceneObject(object_id=0, shape="square", colour="red", size=1, x=0.3, y=0.5)
    event = Event(
        event_id=0,
        object_id=0,
        action="move_right",
        start=2.0,
        end=4.0,
        colour_before="red",
        dx=0.4,
    )
    return Scene(video_id="v", duration=6.0, config=config, objects=[obj], events=[event])


def test_pixels_change_exactly_inside_the_event(tmp_path):
    scene = _one_object_scene()
    fps = scene.config.fps
    frames = {i: render_frame(scene, i / fps) for i in range(scene.num_frames)}
    start, end = int(2.0 * fps), int(4.0 * fps)
    for i in range(1, scene.num_frames):
        changed = not np.array_equal(frames[i], frames[i - 1])
        assert changed == (start < i <= end), i
    # the square's red pixels sit left of centre before and right of it after
    red = np.array([220, 40, 40], dtype=np.uint8)
    cols_before = np.nonzero((frames[0] == red).all(axis=2).any(axis=0))[0]
    cols_after = np.nonzero((frames[end] == red).all(axis=2).any(axis=0))[0]
    assert cols_before.mean() == pytest.approx(0.3 * 224, abs=1.5)
    assert cols_after.mean() == pytest.approx(0.7 * 224, abs=1.5)
    # and the encoded video keeps that: decoded frames move only inside the event
    from timelens_eval.synthetic.render import write_video

    path = tmp_path / "one.mp4"
    write_video(scene, path)
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    diffs = [np.abs(decoded[i] - decoded[i - 1]).mean() for i in range(1, len(decoded))]
    moving = [d > 0.1 for d in diffs]  # still: < 0.02 (coding noise); moving: ~0.5
    assert moving == [start < i <= end for i in range(1, len(decoded))]


def test_pixels_change_in_exactly_the_frames_inside_some_event():
    plan = plan_split(SplitConfig(seed=11, videos=6))
    for scene in plan.scenes:
        fps = scene.config.fps
        previous = render_frame(scene, 0.0)
        for index in range(1, scene.num_frames):
            t = index / fps
            frame = render_frame(scene, t)
            in_event = any(e.start < t <= e.end for e in scene.events)
            changed = not np.array_equal(frame, previous)
            assert changed == in_event, (scene.video_id, t)
            previous = frame


def test_loader_round_trip_from_annotation_files(small_split):
    root = small_split.root
    for variant in ("original", "refined"):
        bench = load_benchmark(f"synthetic-{variant}", root / f"synthetic-{variant}.json")
        assert bench.variant == variant
        assert bench.content_hash == file_sha256(root / f"synthetic-{variant}.json")
        assert len(bench) == len(small_split.plan.samples)
        for sample, planned in zip(bench.samples, small_split.plan.samples, strict=True):
            assert sample.sample_id == planned.sample_id
            expected = planned.original_gt if variant == "original" else planned.refined_gt
            assert sample.gt == (expected,)
            assert bench.video_path(sample).is_file()
            category = planned.category if variant == "original" else "none"
            assert sample.meta["error_category"] == category
    # a folder resolves to the variant's file
    assert len(load_benchmark("synthetic-refined", root)) == len(small_split.plan.samples)


def test_loader_rejects_wrong_variant_and_bad_files(small_split, tmp_path):
    with pytest.raises(InputError, match="synthetic-refined.json"):
        load_benchmark("synthetic-refined", small_split.root / "synthetic-original.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "timelens-eval/synthetic",\n "format_version": 1,,}')
    with pytest.raises(InputError, match=r"bad\.json:2"):
        load_benchmark("synthetic-refined", bad)
    document = json.loads((small_split.root / "synthetic-refined.json").read_text())
    document["samples"][1]["gt"] = [5.0, 2.0]
    broken = tmp_path / "synthetic-refined.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"sample test0000#1"):
        load_benchmark("synthetic-refined", broken)


def test_loader_generates_into_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMELENS_EVAL_CACHE", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache" / "synthetic"
    bench = load_benchmark("synthetic-original", videos=2, seed=1)
    video_root = Path(bench.video_root)
    assert video_root.parent.parent == cache_root()
    assert sorted(p.name for p in video_root.iterdir()) == ["test0000.mp4", "test0001.mp4"]
    stamp = (video_root / "test0000.mp4").stat().st_mtime_ns
    again = ensure_split(SplitConfig(seed=1, videos=2))
    assert again.cached and again.root == video_root.parent

    def no_planning(config):
        raise AssertionError("a cached split should load without planning")

    monkeypatch.setattr(generate_module, "plan_split", no_planning)
    refined = load_benchmark("synthetic-refined", videos=2, seed=1)
    assert refined.video_root == bench.video_root
    assert (video_root / "test0000.mp4").stat().st_mtime_ns == stamp
    assert [s.sample_id for s in refined.samples] == [s.sample_id for s in bench.samples]
    assert not [p for p in cache_root().iterdir() if p.name.startswith(".")]  # no staging left


def test_incomplete_cache_folder_is_regenerated(tmp_path):
    config = SplitConfig(seed=2, videos=2)
    first = ensure_split(config, cache_dir=tmp_path)
    video = first.root / "videos" / "test0001.mp4"
    original_bytes = video.read_bytes()
    video.unlink()  # a damaged cache
    second = ensure_split(config, cache_dir=tmp_path)
    assert not second.cached and second.root == first.root
    assert video.read_bytes() == original_bytes


def test_unwritable_places_are_one_line_errors(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TIMELENS_EVAL_CACHE", str(blocker / "cache"))
    with pytest.raises(ConfigError, match="TIMELENS_EVAL_CACHE"):
        load_benchmark("synthetic-refined", videos=1)
    assert main(["synth", "generate", "--out", str(blocker / "out"), "--videos", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "gen"
    code = main(
        [
            "synth",
            "generate",
            "--out",
            str(out),
            "--videos",
            "2",
            "--seed",
            "9",
            "--variant",
            "refined",
        ]
    )
    assert code == 0
    assert (out / "synthetic-refined.json").is_file()
    assert not (out / "synthetic-original.json").exists()
    assert len(list((out / "videos").glob("*.mp4"))) == 2
    assert "2 videos" in capsys.readouterr().out
    assert main(["synth", "generate", "--out", str(out), "--variant", "both-ish"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --variant")


def test_scene_with_hidden_object_renders_background_only():
    config = SceneConfig()
    obj = SceneObject(
        object_id=0, shape="circle", colour="blue", size=0, x=0.5, y=0.5, visible=False
    )
    scene = Scene(video_id="v", duration=2.0, config=config, objects=[obj])
    frame = render_frame(scene, 1.0)
    assert (frame == frame[0, 0]).all()
    assert random.Random(0).random() == random.Random(0).random()  # seeded generators agree


@pytest.mark.slow
def test_default_test_split_is_reproducible_and_every_video_decodes(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMELENS_EVAL_CACHE", str(tmp_path / "cache"))
    bench = load_benchmark("synthetic-refined")
    assert 150 <= len(bench) <= 250
    videos = {s.video_id: s for s in bench.samples}
    assert 60 <= len(videos) <= 80
    for sample in videos.values():
        with av.open(str(bench.video_path(sample))) as container:
            count = sum(1 for _ in container.decode(video=0))
        assert count == round(sample.duration * 8)
    # a second generation (two processes this time) writes the same bytes
    again = generate_split(SplitConfig(), tmp_path / "again", workers=2)
    cached = Path(bench.video_root).parent
    assert _tree_bytes(again.root) == _tree_bytes(cached)
