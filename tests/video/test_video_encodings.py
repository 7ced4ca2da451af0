"""Each timestamp encoding's exact text and parts."""

from __future__ import annotations

import numpy as np
import pytest

from timelens_eval.errors import UnknownNameError
from timelens_eval.messages import ImagePart, TextPart
from timelens_eval.video.encodings import ENCODINGS, encode_frames, register_encoding
from timelens_eval.video.types import Frames


def make_frames(timestamps: list[float], height: int = 60, width: int = 80) -> Frames:
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, size=(len(timestamps), height, width, 3), dtype=np.uint8)
    return Frames(
        images=images,
        timestamps=np.asarray(timestamps, dtype=np.float64),
        video_duration=12.34,
        source_fps=25.0,
    )


FRAMES = make_frames([0.0, 0.48, 1.0, 11.96])


def layout(parts: list) -> list:  # type: ignore[type-arg]
    """Parts as comparable values: text as str, images as ("img", index, timestamp)."""
    out: list = []  # type: ignore[type-arg]
    for p in parts:
        if isinstance(p, TextPart):
            out.append(p.text)
        else:
            assert isinstance(p, ImagePart)
            out.append(("img", p.index, round(p.timestamp, 6)))
    return out


IMGS = [("img", 0, 0.0), ("img", 1, 0.48), ("img", 2, 1.0), ("img", 3, 11.96)]


def test_registry_names() -> None:
    assert ENCODINGS.names() == [
        "frame-index",
        "frame-index-list",
        "interleaved",
        "interleaved-patches",
        "list",
        "none",
        "overlay",
    ]
    with pytest.raises(UnknownNameError, match="did you mean 'interleaved'"):
        encode_frames(FRAMES, "interleave", 12.34)


def test_none_is_frames_only() -> None:
    parts = encode_frames(FRAMES, "none", 12.34)
    assert layout(parts) == IMGS
    for i, part in enumerate(parts):
        assert part.image is FRAMES.images[i] or np.array_equal(part.image, FRAMES.images[i])


def test_interleaved_puts_one_decimal_seconds_before_each_frame() -> None:
    parts = encode_frames(FRAMES, "interleaved", 12.34)
    assert layout(parts) == [
        "0.0s",
        IMGS[0],
        "0.5s",
        IMGS[1],
        "1.0s",
        IMGS[2],
        "12.0s",
        IMGS[3],
    ]


def test_list_states_count_duration_and_times_before_the_frames() -> None:
    parts = encode_frames(FRAMES, "list", 12.34)
    assert layout(parts) == [
        "This video samples 4 frames of a 12.3-second video at 0.0, 0.5, 1.0, 12.0 seconds.",
        *IMGS,
    ]
    one = encode_frames(make_frames([2.0]), "list", 3.0)
    assert layout(one)[0] == "This video samples 1 frame of a 3.0-second video at 2.0 seconds."


def test_frame_index_variants() -> None:
    assert layout(encode_frames(FRAMES, "frame-index", 12.34)) == [
        "Frame 1:",
        IMGS[0],
        "Frame 2:",
        IMGS[1],
        "Frame 3:",
        IMGS[2],
        "Frame 4:",
        IMGS[3],
    ]
    assert layout(encode_frames(FRAMES, "frame-index-list", 12.34)) == [
        "This video samples 4 frames of a 12.3-second video, numbered 1 to 4 in time order.",
        *IMGS,
    ]


def test_overlay_draws_the_timestamp_in_the_corner_only() -> None:
    frames = make_frames([0.0, 7.25], height=120, width=160)
    before = frames.images.copy()
    parts = encode_frames(frames, "overlay", 8.0)
    assert layout(parts) == [("img", 0, 0.0), ("img", 1, 7.25)]
    np.testing.assert_array_equal(frames.images, before)  # input untouched
    for part, original in zip(parts, before, strict=True):
        img = part.image
        assert img.shape == original.shape and img.dtype == np.uint8
        # A black box (padding at least 2 px) behind the label; the source had no black.
        assert (img[:2, :20] == 0).all() and (img[:12, :2] == 0).all()
        assert (original > 0).all()
        np.testing.assert_array_equal(img[60:, 80:], original[60:, 80:])  # rest unchanged
        label = img[:20, :60]
        assert (label > 200).any()  # white text
    # Different timestamps draw different labels.
    assert not np.array_equal(parts[0].image[:20, :60], parts[1].image[:20, :60])


def test_custom_encoding_can_be_registered() -> None:
    @register_encoding("test-seconds-after", "Test: text after each frame.")
    def _after(frames: Frames, duration: float) -> list:  # type: ignore[type-arg]
        out: list = []  # type: ignore[type-arg]
        for i, t in enumerate(frames.timestamps):
            out += [ImagePart(frames.images[i], float(t), i), TextPart(f"<{t:.2f}>")]
        return out

    try:
        assert layout(encode_frames(make_frames([0.0, 1.5]), "test-seconds-after", 2.0)) == [
            ("img", 0, 0.0),
            "<0.00>",
            ("img", 1, 1.5),
            "<1.50>",
        ]
    finally:
        ENCODINGS._entries.pop("test-seconds-after")
