"""The PyAV frame sampler on generated videos whose frames carry their own index.

Each generated frame shows its index as black/white blocks, so which source frame the
sampler returned is read from the pixels, independently of the sampler's timestamps.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from repo_paths import OHOFG as REAL

from timelens_eval.errors import TimelensError
from timelens_eval.spans import Span
from timelens_eval.video.budget import timelens_frame_spec
from timelens_eval.video.cache import FrameCache
from timelens_eval.video.errors import VideoError
from timelens_eval.video.sampler import probe, sample_frames
from timelens_eval.video.testing import read_frame_index, write_indexed_video
from timelens_eval.video.types import FrameSpec

# Irregular frame times (variable frame rate): bursts, long holds, a 1.7 s gap.
VFR_TIMES = [
    0.0,
    0.03,
    0.07,
    0.5,
    0.52,
    0.9,
    1.0,
    1.1,
    2.8,
    2.83,
    3.3,
    3.31,
    3.9,
    4.6,
    4.62,
    4.64,
    5.0,
    5.45,
    6.1,
    6.7,
]
CFR_TIMES = [i * 0.04 for i in range(250)]  # 25 fps, 10 s


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    out = {
        "vfr": write_indexed_video(root / "vfr.mp4", VFR_TIMES),
        "cfr": write_indexed_video(root / "cfr.mp4", CFR_TIMES),
        "short_gop": write_indexed_video(root / "short_gop.mp4", CFR_TIMES, gop=12),
        "audio": write_indexed_video(root / "audio.mp4", CFR_TIMES[:100], audio=True),
        "rot90": write_indexed_video(root / "rot90.mp4", CFR_TIMES[:20], rotation=90),
        "rot270": write_indexed_video(root / "rot270.mp4", CFR_TIMES[:20], rotation=-90),
        "mkv": write_indexed_video(root / "cfr.mkv", CFR_TIMES[:100], container_format="matroska"),
        "ts": write_indexed_video(root / "cfr.ts", CFR_TIMES, gop=25, container_format="mpegts"),
        "raw": write_indexed_video(root / "raw.h264", CFR_TIMES[:100], container_format="h264"),
        "open_gop": write_indexed_video(
            root / "open_gop.mp4",
            CFR_TIMES,
            x264_params="open-gop=1:keyint=12:min-keyint=12:scenecut=0:bframes=3",
        ),
    }
    return out


def expected_indices(times: list[float], timestamps: np.ndarray) -> list[int]:
    """Index of the frame on screen at each timestamp, from the generator's own times."""
    return [int(np.searchsorted(times, t + 1e-6, side="right") - 1) for t in timestamps]


def on_screen(times: list[float], targets: list[float]) -> list[int]:
    idx = [int(np.searchsorted(times, t + 1e-6, side="right") - 1) for t in targets]
    return sorted(set(idx))


def assert_matches_full_decode(frames, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every sampled frame equals, pixel for pixel, the frame a full decode shows then."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        reference = {
            round(float(f.pts * stream.time_base), 4): f.to_ndarray(format="rgb24")
            for f in container.decode(stream)
        }
    for t, image in zip(frames.timestamps, frames.images, strict=True):
        np.testing.assert_array_equal(image, reference[round(float(t), 4)])


def indices_of(frames) -> list[int]:  # type: ignore[no-untyped-def]
    return [read_frame_index(img) for img in frames.images]


def test_vfr_picks_the_frame_on_screen_at_each_target(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["vfr"], FrameSpec(fps=2))
    targets = [k / 2 for k in range(14)]  # 0.0 .. 6.5 (video ends at 6.7 + last frame)
    want = on_screen(VFR_TIMES, targets)
    assert indices_of(frames) == want
    np.testing.assert_allclose(frames.timestamps, [VFR_TIMES[i] for i in want], atol=1e-3)
    assert np.all(np.diff(frames.timestamps) > 0)
    # A hold (1.1 -> 2.8 s) spans several targets: the held frame appears once.
    assert want.count(7) == 1 and 7 in want


def test_vfr_at_high_fps_returns_every_frame_once(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["vfr"], FrameSpec(fps=100))
    assert indices_of(frames) == list(range(len(VFR_TIMES)))
    np.testing.assert_allclose(frames.timestamps, VFR_TIMES, atol=1e-3)


@pytest.mark.parametrize("key", ["cfr", "short_gop", "ts", "mkv"])
@pytest.mark.parametrize("fps", [2.0, 0.3, 7.0])
def test_dense_and_sparse_sampling_agree_with_the_source(
    videos: dict[str, Path], key: str, fps: float
) -> None:
    times = CFR_TIMES[:100] if key == "mkv" else CFR_TIMES
    frames = sample_frames(videos[key], FrameSpec(fps=fps))
    duration = times[-1] + 0.04
    targets = [k / fps for k in range(int(np.floor(duration * fps - 1e-9)) + 1)]
    assert indices_of(frames) == on_screen(times, targets)
    assert indices_of(frames) == expected_indices(times, frames.timestamps)
    assert frames.video_duration == pytest.approx(duration, abs=1e-3)


def test_frames_are_pixel_identical_to_a_full_decode(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["short_gop"], FrameSpec(fps=0.7))
    assert_matches_full_decode(frames, videos["short_gop"])


def test_max_frames_spreads_frames_evenly(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["cfr"], FrameSpec(fps=2, max_frames=4))
    assert indices_of(frames) == on_screen(CFR_TIMES, [0.0, 2.5, 5.0, 7.5])


def test_pixel_budget_resizes_with_patch_multiples(videos: dict[str, Path]) -> None:
    spec = timelens_frame_spec("qwen3-vl")
    frames = sample_frames(videos["cfr"], spec)
    n, h, w, c = frames.images.shape
    assert (n, c) == (20, 3) and h % 32 == 0 and w % 32 == 0
    assert (h // 32) * (w // 32) >= 64
    assert indices_of(frames) == on_screen(CFR_TIMES, [k / 2 for k in range(20)])


def test_clip_window_keeps_absolute_timestamps(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["cfr"], FrameSpec(fps=2), clip=Span(3.0, 5.0))
    # 25 fps: 3.5 s falls between frames 87 (3.48 s) and 88 (3.52 s); 87 is on screen.
    np.testing.assert_allclose(frames.timestamps, [3.0, 3.48, 4.0, 4.48], atol=1e-6)
    assert indices_of(frames) == [75, 87, 100, 112]
    tail = sample_frames(videos["cfr"], FrameSpec(fps=1), clip=Span(8.0, 30.0))
    np.testing.assert_allclose(tail.timestamps, [8.0, 9.0], atol=1e-6)
    with pytest.raises(VideoError, match="starts at or after the end"):
        sample_frames(videos["cfr"], FrameSpec(fps=2), clip=Span(12.0, 20.0))


def test_video_shorter_than_annotated_duration(videos: dict[str, Path]) -> None:
    frames = sample_frames(videos["audio"], FrameSpec(fps=2), duration_hint=30.0)
    assert frames.video_duration == pytest.approx(4.0, abs=1e-3)
    assert frames.timestamps[-1] <= 4.0
    assert len(frames) == 8


def test_audio_track_first_is_ignored(videos: dict[str, Path]) -> None:
    with av.open(str(videos["audio"])) as container:
        assert container.streams[0].type == "audio"
    frames = sample_frames(videos["audio"], FrameSpec(fps=1))
    assert indices_of(frames) == [0, 25, 50, 75]


@pytest.mark.parametrize(("key", "band_side"), [("rot90", "left"), ("rot270", "right")])
def test_rotation_metadata_turns_frames_upright(
    videos: dict[str, Path], key: str, band_side: str
) -> None:
    # The coded frame is 192 wide x 96 high with its index band on top. A display rotation
    # of 90 degrees counter-clockwise moves the top edge to the left, -90 to the right.
    frames = sample_frames(videos[key], FrameSpec(fps=5))
    assert frames.images.shape[1:] == (192, 96, 3)
    img = frames.images[1]
    left, right = img[:, :16].astype(float), img[:, -16:].astype(float)
    band, other = (left, right) if band_side == "left" else (right, left)
    assert band.std() > 40 > other.std()  # black/white blocks vs flat background
    k = -1 if band_side == "left" else 1
    assert read_frame_index(np.rot90(img, k=k)) == on_screen(CFR_TIMES[:20], [0.2])[0]


def test_rotation_with_budget(videos: dict[str, Path]) -> None:
    spec = FrameSpec(fps=5, min_pixels=4 * 784, max_pixels=64 * 784, patch=28)
    frames = sample_frames(videos["rot90"], spec)
    _, h, w, _ = frames.images.shape
    assert h > w and h % 28 == 0 and w % 28 == 0


def test_missing_duration_metadata(videos: dict[str, Path]) -> None:
    with av.open(str(videos["raw"])) as container:  # a raw stream: no duration, no PTS
        assert container.duration is None
        assert container.streams.video[0].duration is None
    frames = sample_frames(videos["raw"], FrameSpec(fps=2))
    assert indices_of(frames) == [0, 12, 25, 37, 50, 62, 75, 87]
    np.testing.assert_allclose(frames.timestamps, [0, 0.48, 1, 1.48, 2, 2.48, 3, 3.48], atol=1e-6)
    with av.open(str(videos["mkv"])) as container:  # Matroska: no per-stream duration
        assert container.streams.video[0].duration is None
    assert probe(videos["mkv"]).duration == pytest.approx(4.0, abs=1e-3)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="file not found") as info:
        sample_frames(tmp_path / "nope.mp4", FrameSpec())
    assert info.value.path == str(tmp_path / "nope.mp4")
    assert isinstance(info.value, TimelensError)
    with pytest.raises(VideoError, match="not a regular file"):
        sample_frames(tmp_path, FrameSpec())


def test_truncated_mp4_is_a_video_error(videos: dict[str, Path], tmp_path: Path) -> None:
    data = videos["cfr"].read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: lost
    with pytest.raises(VideoError, match="not a readable video file"):
        sample_frames(bad, FrameSpec())


def test_truncated_data_keeps_the_frames_that_exist(tmp_path: Path) -> None:
    full = tmp_path / "faststart.mp4"
    with av.open(str(full), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 192, 96, "yuv420p"
        stream.codec_context.options = {"g": "25"}
        from timelens_eval.video.testing import frame_with_index

        for i in range(100):
            frame = av.VideoFrame.from_ndarray(frame_with_index(i, 96, 192), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    frames = sample_frames(cut, FrameSpec(fps=2))
    assert 0 < len(frames) < 8
    assert indices_of(frames) == expected_indices(CFR_TIMES[:100], frames.timestamps)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"hello, this is text\n" * 50, "not a readable video file"),
        (bytes(range(256)) * 40, "not a readable video file"),
        (b"", "empty file"),
    ],
)
def test_non_video_files(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(VideoError, match=reason):
        sample_frames(bad, FrameSpec())


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        from timelens_eval.video.testing import _write_tone

        _write_tone(stream, out, 1.0)
    with pytest.raises(VideoError, match="no video stream"):
        sample_frames(path, FrameSpec())


def test_frame_cache_hits_without_decoding(
    videos: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FrameCache(tmp_path / "cache")
    spec = FrameSpec(fps=1)
    first = sample_frames(videos["cfr"], spec, cache=cache)
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1
    import timelens_eval.video.sampler as sampler

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded despite a cache hit")

    monkeypatch.setattr(sampler, "_sample", boom)
    again = sample_frames(videos["cfr"], spec, cache=cache)
    np.testing.assert_array_equal(again.images, first.images)
    np.testing.assert_array_equal(again.timestamps, first.timestamps)
    assert again.video_duration == first.video_duration
    # Another config or clip is another key.
    assert cache.key(videos["cfr"], spec) != cache.key(videos["cfr"], FrameSpec(fps=2))
    assert cache.key(videos["cfr"], spec) != cache.key(videos["cfr"], spec, clip=Span(0, 1))


def test_frame_cache_key_follows_file_content(videos: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(videos["cfr"].read_bytes())
    cache = FrameCache(tmp_path / "cache")
    before = cache.key(path, FrameSpec())
    path.write_bytes(videos["short_gop"].read_bytes())
    assert cache.key(path, FrameSpec()) != before


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data (real OHOFG.mp4) not present")
def test_real_charades_video() -> None:
    frames = sample_frames(REAL, FrameSpec(fps=2))
    ts = frames.timestamps
    assert len(frames) == 71 and ts[0] == 0.0 and ts[-1] > 34.5
    assert np.all(np.diff(ts) > 0)
    assert np.all(np.diff(ts) < 0.6)  # 2 fps from a 9.53 fps source: gaps of 0.42-0.53 s
    assert frames.video_duration == pytest.approx(35.14, abs=0.05)
    with av.open(str(REAL)) as container:
        stream = container.streams.video[0]
        wanted = {round(float(t), 4) for t in ts}
        reference = [
            f.to_ndarray(format="rgb24")
            for f in container.decode(stream)
            if round(float(f.pts * stream.time_base), 4) in wanted
        ]
    np.testing.assert_array_equal(frames.images, np.stack(reference))
    budget = sample_frames(REAL, timelens_frame_spec("qwen2.5-vl"))
    assert budget.images.shape == (71, 364, 644, 3)


def test_sparse_sampling_seeks_and_dense_sampling_decodes_through(
    videos: dict[str, Path],
) -> None:
    from timelens_eval.video import sampler

    def segments(path: Path, fps: float) -> tuple[int, int, int]:
        with av.open(str(path)) as container:
            index = sampler._index(container, container.streams.video[0], path)
        seconds = (index.sorted_pts() - index.origin) * index.time_base
        targets = sampler.target_times(0.0, index.duration(), fps, None)
        picks = np.unique(np.searchsorted(seconds, targets + 1e-9, side="right") - 1)
        needed = {int(p) for p in index.sorted_pts()[picks]}
        plan = sampler._plan(index, needed, 25.0)
        decoded = sum(s.last - s.first + 1 for s in plan)
        return len(plan), decoded, int(index.disposable.sum())

    # Keyframe every 12 frames, targets at 0, 3.3 and 6.7 s: one seek per target,
    # each decoding at most a keyframe interval.
    n_seg, decoded, _ = segments(videos["short_gop"], 0.3)
    assert n_seg == 3 and decoded <= 3 * 12
    # One keyframe per 250 frames at 2 fps: a single pass from the start.
    n_seg, decoded, disposable = segments(videos["cfr"], 2.0)
    assert n_seg == 1
    assert disposable > 0  # x264 B-frames nobody references are skipped, not decoded


def test_frames_survive_pickling_to_worker_processes(videos: dict[str, Path]) -> None:
    import pickle

    from timelens_eval.prompts import build_prompt

    frames = sample_frames(videos["cfr"], FrameSpec(fps=1))
    assert frames.images.flags.writeable
    again = pickle.loads(pickle.dumps(frames))
    np.testing.assert_array_equal(again.images, frames.images)
    message = build_prompt("q", frames, "timelens", "interleaved", 10.0)
    copy = pickle.loads(pickle.dumps(message))
    np.testing.assert_array_equal(copy.images[4].image, frames.images[4])
    assert [p.timestamp for p in copy.images] == list(frames.timestamps)


@pytest.mark.parametrize("fps", [0.3, 0.7, 1.3])
def test_open_gop_leading_frames_after_a_seek(videos: dict[str, Path], fps: float) -> None:
    # With open GOPs, B-frames that follow a keyframe in decode order but precede it on
    # screen reference the previous GOP; a seek to that keyframe alone cannot decode them.
    frames = sample_frames(videos["open_gop"], FrameSpec(fps=fps))
    targets = [k / fps for k in range(int(np.floor(10.0 * fps - 1e-9)) + 1)]
    assert indices_of(frames) == on_screen(CFR_TIMES, targets)
    assert_matches_full_decode(frames, videos["open_gop"])
