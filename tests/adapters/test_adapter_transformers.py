"""The ``transformers`` adapter on tiny random Qwen2.5-VL / Qwen3-VL checkpoints built offline.

The checkpoints come from :mod:`timelens_eval.tiny_models` (no download); frames are
decoded from a real H.264 file by the project's sampler and the prompt is built by the
project's prompt builder, so the whole path -- sampler, prompt, chat template, processor,
``generate``, decoding, ``parse_spans`` -- runs for real on the CPU.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from timelens_eval.adapters import GenerationConfig, GroundingRequest  # noqa: E402
from timelens_eval.adapters.presets import PRESETS, build_qwen_inputs  # noqa: E402
from timelens_eval.adapters.transformers_hf import (  # noqa: E402
    TransformersAdapter,
    generate_kwargs,
    request_seed,
)
from timelens_eval.errors import ConfigError, MissingDependencyError  # noqa: E402
from timelens_eval.parsing import ParseStatus, parse_spans  # noqa: E402
from timelens_eval.prompts import build_prompt  # noqa: E402
from timelens_eval.tiny_models import build_tiny_model  # noqa: E402
from timelens_eval.video.sampler import sample_frames  # noqa: E402
from timelens_eval.video.testing import write_indexed_video  # noqa: E402
from timelens_eval.video.types import Frames, FrameSpec  # noqa: E402

HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None
FAMILY = {"qwen2.5-vl": "qwen2_5_vl", "qwen3-vl": "qwen3_vl"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield {
            preset: build_tiny_model(tmp_path_factory.mktemp(preset), family, seed=0)
            for preset, family in FAMILY.items()
        }


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-second, 10 fps H.264 video of 96x192 frames."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return write_indexed_video(path, [i / 10 for i in range(30)], height=96, width=192)


def _frames(video: Path, patch: int) -> Frames:
    # A tiny pixel budget keeps the model fast: 2 fps, <= 8 tokens per frame.
    spec = FrameSpec(
        fps=2.0, min_pixels=2 * patch * patch, max_pixels=8 * patch * patch, patch=patch
    )
    return sample_frames(video, spec)


def _adapter(path: Path, preset: str, **extra: object) -> TransformersAdapter:
    return TransformersAdapter(
        model=str(path), preset=preset, vision="images", device="cpu", **extra
    )


def _request(
    frames: Frames, preset: str, sample_id: str = "s1", **generation: object
) -> GroundingRequest:
    p = PRESETS[preset]
    message = build_prompt("the bar moves right", frames, p.template, p.encoding, 3.0)
    return GroundingRequest(
        sample_id=sample_id,
        query="the bar moves right",
        duration=3.0,
        video_path=None,
        message=message,
        generation=GenerationConfig(**generation),
    )


@pytest.mark.parametrize("preset", ["qwen2.5-vl", "qwen3-vl"])
def test_tiny_model_answers_through_processor_model_and_parser(
    tiny: dict[str, Path], video: Path, preset: str
) -> None:
    family_preset = PRESETS[preset]
    adapter = _adapter(tiny[preset], preset)
    frames = _frames(video, family_preset.patch)
    assert len(frames) == 6 and frames.images.shape[1] % family_preset.patch == 0
    request = _request(frames, preset, max_new_tokens=12)

    out = asyncio.run(adapter.ground(request))
    again = asyncio.run(adapter.ground(request))

    assert isinstance(out.text, str)
    assert out.text == again.text  # greedy decoding is deterministic
    # Prompt tokens = the rendered text's tokens + one token per patch x patch square.
    h, w = frames.images.shape[1:3]
    visual = len(frames) * (h // family_preset.patch) * (w // family_preset.patch)
    inputs = build_qwen_inputs(request.message, family_preset, "images")
    text = adapter.processor_inputs(inputs)["text"][0]
    text_tokens = len(adapter._processor.tokenizer(text)["input_ids"]) - len(frames)
    assert out.usage is not None
    assert out.usage.input_tokens == text_tokens + visual
    assert 1 <= out.usage.output_tokens <= 12
    parsed = parse_spans(out.text, duration=3.0)
    assert parsed.status in set(ParseStatus)
    assert out.latency_s is not None and out.latency_s > 0
    asyncio.run(adapter.aclose())


def test_sampling_with_a_seed_is_reproducible(tiny: dict[str, Path], video: Path) -> None:
    adapter = _adapter(tiny["qwen2.5-vl"], "qwen2.5-vl")
    frames = _frames(video, 28)
    hot = _request(frames, "qwen2.5-vl", temperature=5.0, max_new_tokens=16, seed=7)
    texts = [asyncio.run(adapter.ground(hot)).text for _ in range(2)]
    assert texts[0] == texts[1]
    other = _request(frames, "qwen2.5-vl", temperature=5.0, max_new_tokens=16, seed=8)
    greedy = _request(frames, "qwen2.5-vl", max_new_tokens=16)
    outs = {asyncio.run(adapter.ground(r)).text for r in (hot, other, greedy)}
    assert len(outs) >= 2  # a hot sampler with other seeds does not repeat greedy output
    # the same seed on another sample draws other random numbers (the prompt is the same)
    twin = _request(frames, "qwen2.5-vl", "s2", temperature=5.0, max_new_tokens=16, seed=7)
    assert asyncio.run(adapter.ground(twin)).text != texts[0]
    assert request_seed(7, "s1") != request_seed(7, "s2") != request_seed(8, "s2")
    assert request_seed(7, "s1") == request_seed(7, "s1")


def test_timelens_7b_preset_puts_a_timestamp_before_each_frame_pair(
    tiny: dict[str, Path], video: Path
) -> None:
    adapter = _adapter(tiny["qwen2.5-vl"], "timelens-7b")
    assert adapter.default_encoding == "interleaved-patches"
    assert adapter.default_template == "timelens-7b"
    assert adapter.trust_remote_code is False  # a stock processor: nothing to trust
    frames = _frames(video, 28)
    request = _request(frames, "timelens-7b", max_new_tokens=4)
    inputs = build_qwen_inputs(request.message, adapter.preset, "images")
    text = adapter.processor_inputs(inputs)["text"][0]
    frame = "<|vision_start|><|image_pad|><|vision_end|>"
    # one timestamp per 2-frame temporal patch: the time of its first frame
    times = "".join(f"{t:.1f}s{frame}{frame}" for t in frames.timestamps[::2])
    assert text.startswith("<|im_start|>user\n" + times + "You are given a video")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    out = asyncio.run(adapter.ground(request))
    assert isinstance(out.text, str)


@pytest.mark.parametrize(
    "preset,patch", [("qwen2.5-vl", 28), ("qwen3-vl", 32), ("timelens-7b", 28), ("timelens-8b", 32)]
)
def test_adapter_exposes_the_family_presets(tiny: dict[str, Path], preset: str, patch: int) -> None:
    path = tiny["qwen2.5-vl" if patch == 28 else "qwen3-vl"]
    adapter = _adapter(path, preset)
    assert adapter.default_frames == FrameSpec(
        fps=2.0,
        min_pixels=64 * patch * patch,
        total_pixels=14336 * patch * patch,
        patch=patch,
        # qwen-vl-utils' frames need torchvision's resize; without it (frames as images)
        # the adapter samples by timestamp
        sampler="qwen-vl-utils" if HAS_TORCHVISION else "pts",
    )


def test_frames_not_sized_to_the_patch_are_resized_by_the_processor(
    tiny: dict[str, Path],
) -> None:
    adapter = _adapter(tiny["qwen2.5-vl"], "qwen2.5-vl")
    rng = np.random.default_rng(0)
    frames = Frames(
        images=rng.integers(0, 256, (2, 50, 70, 3), dtype=np.uint8), timestamps=np.array([0.0, 0.5])
    )
    request = _request(frames, "qwen2.5-vl", max_new_tokens=3)
    inputs = build_qwen_inputs(request.message, adapter.preset, "images")
    assert not inputs.frames_presized
    assert "do_resize" not in adapter.processor_inputs(inputs)
    assert isinstance(asyncio.run(adapter.ground(request)).text, str)


def test_generate_kwargs_are_greedy_at_temperature_zero() -> None:
    greedy = generate_kwargs(GenerationConfig())
    assert greedy["do_sample"] is False and greedy["max_new_tokens"] == 512
    hot = generate_kwargs(GenerationConfig(temperature=0.7, top_p=0.9, max_new_tokens=5))
    assert hot == {
        "do_sample": True,
        "max_new_tokens": 5,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": None,
    }


def test_bad_arguments_fail_before_loading(tiny: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="did you mean 'preset'"):
        TransformersAdapter(model="x", prest="qwen3-vl")
    with pytest.raises(ConfigError, match="unknown model preset 'qwen9'"):
        TransformersAdapter(model="x", preset="qwen9", vision="images")
    with pytest.raises(ConfigError, match="pass preset="):
        TransformersAdapter(model="/no/such/llava", vision="images")
    with pytest.raises(ConfigError, match="cannot load"):
        TransformersAdapter(model="/no/such/qwen2-vl", vision="images", local_files_only=True)


def test_video_input_without_torchvision_names_the_extra(tiny: dict[str, Path]) -> None:
    if HAS_TORCHVISION:
        pytest.skip("torchvision is installed: video input is available")
    with pytest.raises(MissingDependencyError) as info:
        TransformersAdapter(model=str(tiny["qwen3-vl"]), preset="qwen3-vl")
    message = str(info.value)
    assert "\n" not in message
    assert "torchvision" in message and "pip install 'timelens-eval[transformers-video]'" in message


def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "transformers" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"timelens-eval\[transformers\]"):
        TransformersAdapter(model="Qwen/Qwen2.5-VL-7B-Instruct")


@pytest.mark.skipif(not HAS_TORCHVISION, reason="Hugging Face video processors need torchvision")
@pytest.mark.parametrize("preset", ["qwen2.5-vl", "qwen3-vl", "timelens-7b"])
def test_video_input_through_the_video_processor(
    tiny: dict[str, Path], video: Path, preset: str
) -> None:
    p = PRESETS[preset]
    path = tiny[p.family]
    adapter = TransformersAdapter(model=str(path), preset=preset, device="cpu")
    out = asyncio.run(adapter.ground(_request(_frames(video, p.patch), preset, max_new_tokens=4)))
    assert isinstance(out.text, str)


def test_qwen3_processor_reads_true_frame_times_from_the_metadata(tiny: dict[str, Path]) -> None:
    """Qwen3-VL's own timestamp text, written by its processor code from our metadata."""
    import re
    from types import SimpleNamespace

    import torch
    from transformers.video_utils import VideoMetadata

    from timelens_eval.adapters.presets import video_metadata
    from timelens_eval.tiny_models import load_processor

    processor = load_processor(tiny["qwen3-vl"])
    # The replacement text needs only these two sizes of the (torchvision-backed) video
    # processor; everything else is the library's Qwen3-VL code.
    processor.video_processor = SimpleNamespace(merge_size=2, temporal_patch_size=2)
    times = np.array([3.0, 3.5, 4.0, 4.5, 5.0, 5.5])  # a clip that starts at 3 s
    meta = VideoMetadata(**video_metadata(times, 2.0))
    grid = torch.tensor([[3, 2, 2]])  # 3 temporal patches of 2 frames, 2x2 patches each
    text = processor.replace_video_token({"video_grid_thw": grid, "video_metadata": [meta]}, 0)
    shown = [float(t) for t in re.findall(r"<([\d.]+) seconds>", text)]
    assert shown == pytest.approx([3.25, 4.25, 5.25], abs=0.051)  # pair midpoints, 1 decimal
    assert text.count("<|video_pad|>") == 3  # one merged token per frame pair
