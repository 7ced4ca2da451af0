"""Pixel-budget arithmetic per model family, against the published Qwen-VL formulas.

Expected sizes below were worked out by hand from the published rule:
per-frame ceiling = max(min(768 * p^2, total_pixels / n * 2), int(min_pixels * 1.05)),
sides rounded to multiples of p, scaled down (floor) above the ceiling, up (ceil) below
min_pixels. TimeLens: min_pixels = 64 * p^2, total_pixels = 14,336 * p^2.
"""

from __future__ import annotations

import math

import pytest

from timelens_eval.errors import ConfigError, UnknownNameError
from timelens_eval.video.budget import frame_size, smart_resize, timelens_frame_spec
from timelens_eval.video.types import FrameSpec


def test_timelens_specs_match_the_published_token_budgets() -> None:
    q25 = timelens_frame_spec("qwen2.5-vl")
    assert (q25.patch, q25.min_pixels, q25.total_pixels, q25.fps) == (28, 50176, 11239424, 2.0)
    q3 = timelens_frame_spec("qwen3-vl")
    assert (q3.patch, q3.min_pixels, q3.total_pixels) == (32, 64 * 1024, 14336 * 1024)
    with pytest.raises(UnknownNameError, match="qwen3-vl"):
        timelens_frame_spec("qwen3vl")


@pytest.mark.parametrize(
    ("family", "n", "height", "width", "expected"),
    [
        # 71 frames of 640x360: the share (316,603 px) is above the rounded size.
        ("qwen2.5-vl", 71, 360, 640, (364, 644)),
        ("qwen3-vl", 71, 360, 640, (352, 640)),
        # 1,200 frames: ceiling falls to int(50176 * 1.05) = 52,684 px; scaled down with
        # beta = sqrt(230400 / 52684) = 2.0912: 360/beta = 172.1 -> 168, 640/beta -> 280.
        ("qwen2.5-vl", 1200, 360, 640, (168, 280)),
        # Qwen3-VL, 1,200 frames: ceiling int(65536 * 1.05) = 68,812; beta = 1.8298:
        # 196.7 -> 192, 349.8 -> 320.
        ("qwen3-vl", 1200, 360, 640, (192, 320)),
        # A tiny 100x56 video is scaled up to at least 64 tokens: beta = sqrt(50176/5600)
        # = 2.9933; 56*beta = 167.6 -> 168, 100*beta = 299.3 -> 308.
        ("qwen2.5-vl", 10, 56, 100, (168, 308)),
        # Full HD, 20 frames: share = 14336*784/20*2 = 1,123,942 > 768*784 = 602,112, so
        # the per-frame cap of 768 tokens binds: beta = sqrt(2073600/602112) = 1.8558;
        # 1080/beta = 581.97 -> 560, 1920/beta = 1034.6 -> 1008.
        ("qwen2.5-vl", 20, 1080, 1920, (560, 1008)),
    ],
)
def test_frame_size_matches_hand_computed_values(
    family: str, n: int, height: int, width: int, expected: tuple[int, int]
) -> None:
    spec = timelens_frame_spec(family)
    assert tuple(frame_size(height, width, spec, n)) == expected


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
@pytest.mark.parametrize("n", [2, 16, 71, 120, 300])
@pytest.mark.parametrize(("height", "width"), [(360, 640), (480, 854), (1080, 1920), (720, 406)])
def test_budget_properties(family: str, n: int, height: int, width: int) -> None:
    spec = timelens_frame_spec(family)
    p = spec.patch
    h, w = frame_size(height, width, spec, n)
    assert h % p == 0 and w % p == 0
    tokens = (h // p) * (w // p)
    assert tokens >= 64 or tokens * p * p <= int(64 * p * p * 1.05)  # floor of the 1.05 cap
    assert tokens <= 768
    # Aspect ratio kept within one patch of rounding on each side.
    assert abs(h / w - height / width) <= (p / min(h, w)) * 1.5
    # Two frames share one temporal patch: the video fits 14,336 tokens unless the
    # 64-token floor forces more.
    share = 14336 * p * p / n * 2
    if share >= 64 * p * p * 1.05:
        assert math.ceil(n / 2) * tokens <= 14336 * (1 + 1 / n)


def test_no_budget_keeps_native_size() -> None:
    assert tuple(frame_size(360, 640, FrameSpec(), 500)) == (360, 640)


def test_explicit_max_pixels_caps_the_frame() -> None:
    # cap = min(100000, share): beta = sqrt(230400/100000) = 1.5179; 237.2 -> 224, 421.6 -> 420
    spec = FrameSpec(min_pixels=64 * 784, max_pixels=100_000, total_pixels=14336 * 784)
    assert tuple(frame_size(360, 640, spec, 10)) == (224, 420)


def test_smart_resize_rounds_and_rejects_extreme_aspect() -> None:
    assert tuple(smart_resize(100, 100, patch=28, min_pixels=1, max_pixels=10**9)) == (112, 112)
    assert tuple(smart_resize(10, 10, patch=28, min_pixels=1, max_pixels=10**9)) == (28, 28)
    with pytest.raises(ConfigError, match="aspect ratio"):
        smart_resize(10, 2100, patch=28, min_pixels=1, max_pixels=10**9)


def test_matches_qwen_vl_utils_when_installed() -> None:
    vision = pytest.importorskip("qwen_vl_utils.vision_process")
    for height, width in [(360, 640), (480, 854), (1080, 1920), (56, 100)]:
        for n in (4, 70, 300, 1200):
            spec = timelens_frame_spec("qwen2.5-vl")
            assert spec.min_pixels is not None and spec.total_pixels is not None
            ceiling = max(min(768 * 784, spec.total_pixels / n * 2), int(spec.min_pixels * 1.05))
            theirs = vision.smart_resize(
                height, width, factor=28, min_pixels=spec.min_pixels, max_pixels=ceiling
            )
            assert tuple(frame_size(height, width, spec, n)) == tuple(theirs)
