"""The example package's own tests: what a model author runs before publishing."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points

import numpy as np
import pytest
from timelens_eval_example_adapter import MotionPeakAdapter

from timelens_eval.adapters import AdapterError, GroundingRequest, build_adapter
from timelens_eval.errors import ConfigError
from timelens_eval.messages import ImagePart, PromptMessage, TextPart
from timelens_eval.parsing import parse_spans


def burst_request(burst: tuple[float, float], duration: float = 10.0) -> GroundingRequest:
    """Still frames at 2 fps, except a moving square inside ``burst``."""
    parts: list = []
    for i, t in enumerate(np.arange(0.0, duration, 0.5)):
        image = np.full((32, 32, 3), 80, np.uint8)
        if burst[0] <= t <= burst[1]:
            x = int(4 * i) % 24
            image[10:18, x : x + 8] = 250
        parts.append(ImagePart(image, float(t), i))
    parts.append(TextPart("Find the moving square."))
    message = PromptMessage(tuple(parts), template="timelens", template_hash="-", encoding="none")
    return GroundingRequest("s#0", "the moving square", duration, None, message)


def test_the_answer_covers_the_motion():
    adapter = MotionPeakAdapter(window=0.2)
    answer = asyncio.run(adapter.ground(burst_request((4.0, 5.5))))
    parsed = parse_spans(answer.text, duration=10.0)  # the harness's own parser reads it
    assert parsed.status.value == "ok"
    start, end = parsed.top
    assert end - start == pytest.approx(2.0)
    assert 3.5 <= start <= 4.0 and end >= 5.5


def test_bad_arguments_fail_before_a_run():
    with pytest.raises(ConfigError, match="window"):
        MotionPeakAdapter(window=0)


def test_a_request_without_frames_is_a_final_error():
    request = GroundingRequest("s#1", "q", 5.0, None, None)
    with pytest.raises(AdapterError) as info:
        asyncio.run(MotionPeakAdapter().ground(request))
    assert info.value.retryable is False


def test_the_entry_point_is_installed_and_builds_through_the_registry():
    names = {ep.name: ep.value for ep in entry_points(group="timelens_eval.adapters")}
    assert names.get("motion-peak") == "timelens_eval_example_adapter:MotionPeakAdapter"
    adapter = build_adapter("motion-peak", "window=0.5")  # as --adapter-args gives it
    assert isinstance(adapter, MotionPeakAdapter) and adapter.window == 0.5
    assert adapter.describe() == {"window": 0.5, "model": "motion-peak"}
