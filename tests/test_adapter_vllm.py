"""The ``vllm`` adapter's request building, presets and batching, without vLLM or a GPU.

vLLM needs a CUDA machine and model weights, so the engine is replaced at its documented
seam (:class:`Engine`) by a recording engine; everything the adapter sends to vLLM --
prompt text, multimodal data, processor options, sampling parameters, engine arguments --
is asserted here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from typing import Any

import numpy as np
import pytest
from timelens_eval_adapters.presets import PRESETS, frames_fps, resolve_preset, video_metadata
from timelens_eval_adapters.vllm_engine import (
    EngineOutput,
    VLLMAdapter,
    VLLMConfig,
    engine_args,
    sampling_params,
)

from timelens_eval.adapters import AdapterError, GenerationConfig, GroundingRequest
from timelens_eval.errors import ConfigError, MissingDependencyError
from timelens_eval.prompts import build_prompt
from timelens_eval.video.types import Frames


def qwen_text(messages: list[dict[str, Any]]) -> str:
    """A Qwen-style rendering of one user turn (what a chat template produces)."""
    pads = {
        "video": "<|vision_start|><|video_pad|><|vision_end|>",
        "image": "<|vision_start|><|image_pad|><|vision_end|>",
    }
    body = "".join(pads.get(c["type"], c.get("text", "")) for c in messages[0]["content"])
    return f"<|im_start|>user\n{body}<|im_end|>\n<|im_start|>assistant\n"


class RecordingEngine:
    """Answers each prompt with its position in the batch and the prompt's first frame time."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        self.fail_first = fail_first
        self.threads: set[str] = set()

    def render(self, messages: list[dict[str, Any]]) -> str:
        return qwen_text(messages)

    def generate(
        self, prompts: list[dict[str, Any]], sampling: list[dict[str, Any]]
    ) -> list[EngineOutput]:
        self.calls.append((prompts, sampling))
        self.threads.add(threading.current_thread().name)
        if len(self.calls) <= self.fail_first:
            raise RuntimeError("CUDA out of memory")
        return [
            EngineOutput(
                text=f"The event happens in {p['prompt'].count('s<')} - 9 seconds",
                prompt_tokens=len(p["prompt"]),
                output_tokens=7,
                finish_reason="stop",
            )
            for p in prompts
        ]


class FakeVLLM(VLLMAdapter):
    engine_factory = RecordingEngine

    def make_engine(self, args: dict[str, Any]) -> RecordingEngine:
        self.seen_args = args
        return self.engine_factory()


def _frames(n: int, times: list[float] | None = None, side: int = 56) -> Frames:
    rng = np.random.default_rng(n)
    return Frames(
        images=rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8),
        timestamps=np.array(times if times is not None else [i / 2 for i in range(n)]),
    )


def _request(frames: Frames, preset: str, sample_id: str = "s", **gen: Any) -> GroundingRequest:
    p = PRESETS[preset]
    message = build_prompt("a dog runs", frames, p.template, p.encoding, 10.0)
    return GroundingRequest(
        sample_id=sample_id,
        query="a dog runs",
        duration=10.0,
        video_path=None,
        message=message,
        generation=GenerationConfig(**gen),
    )


def test_qwen3_video_carries_true_frame_times_and_no_resampling() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct")
    assert adapter.preset.name == "qwen3-vl"
    times = [3.0, 3.5, 4.0, 4.5]  # a clip starting at 3 s
    frames = _frames(4, times, side=64)
    prompt = adapter.build_prompt(_request(frames, "qwen3-vl"))

    assert prompt["prompt"] == (
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>"
        "Please find the visual event described by the sentence 'a dog runs', determining its "
        "starting and ending times. The format should be: 'The event happens in <start time> - "
        "<end time> seconds'.<|im_end|>\n<|im_start|>assistant\n"
    )
    video, meta = prompt["multi_modal_data"]["video"]
    np.testing.assert_array_equal(video, frames.images)
    assert meta["fps"] == 1000.0 and meta["frames_indices"] == [3000, 3500, 4000, 4500]
    assert meta["do_sample_frames"] is False
    kwargs = prompt["mm_processor_kwargs"]
    assert kwargs["do_sample_frames"] is False and kwargs["fps"] == 2.0
    assert kwargs["size"] == {"shortest_edge": 64 * 32 * 32, "longest_edge": 768 * 32 * 32}


def test_video_metadata_reads_back_as_the_true_times_and_rate() -> None:
    transformers = pytest.importorskip("transformers")
    times = np.array([1.25, 2.0, 2.75, 3.5, 4.25])  # capped sampling: 0.75 s apart
    fps = frames_fps(times)
    assert fps == pytest.approx(1 / 0.75)
    meta = transformers.video_utils.VideoMetadata(**video_metadata(times, fps))
    assert meta.timestamps == pytest.approx(times.tolist(), abs=1e-3)
    assert meta.sampled_fps == pytest.approx(fps, rel=1e-3)


def test_qwen25_video_is_the_frame_array_with_its_real_fps() -> None:
    adapter = FakeVLLM(model="/ckpt/Qwen2.5-VL-7B-Instruct")
    times = [0.0, 0.75, 1.5, 2.25]
    prompt = adapter.build_prompt(_request(_frames(4, times), "qwen2.5-vl"))
    video = prompt["multi_modal_data"]["video"]
    assert isinstance(video, np.ndarray) and video.shape == (4, 56, 56, 3)
    assert prompt["mm_processor_kwargs"]["fps"] == pytest.approx(1 / 0.75)
    assert prompt["mm_processor_kwargs"]["size"]["shortest_edge"] == 64 * 28 * 28
    assert adapter.seen_args["limit_mm_per_prompt"] == {"video": 1, "image": 0}


def test_timelens_7b_sends_one_chunk_per_frame_after_its_timestamp() -> None:
    adapter = FakeVLLM(model="TencentARC/TimeLens-7B")
    assert (adapter.preset.name, adapter.vision) == ("timelens-7b", "chunks")
    assert (adapter.default_template, adapter.default_encoding) == ("timelens-7b", "interleaved")
    frames = _frames(3)
    prompt = adapter.build_prompt(_request(frames, "timelens-7b"))
    pad = "<|vision_start|><|video_pad|><|vision_end|>"
    assert prompt["prompt"].startswith(f"<|im_start|>user\n0.0s{pad}0.5s{pad}1.0s{pad}You are")
    videos = prompt["multi_modal_data"]["video"]
    assert [v.shape for v in videos] == [(1, 56, 56, 3)] * 3
    for v, image in zip(videos, frames.images, strict=True):
        np.testing.assert_array_equal(v[0], image)
    assert prompt["mm_processor_kwargs"]["fps"] == 2.0
    assert adapter.seen_args["limit_mm_per_prompt"] == {"video": 1024, "image": 0}


def test_images_mode_sends_pil_images() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct", vision="images", max_videos=64)
    prompt = adapter.build_prompt(_request(_frames(2, side=64), "qwen3-vl"))
    images = prompt["multi_modal_data"]["image"]
    assert [im.size for im in images] == [(64, 64), (64, 64)]
    assert "do_sample_frames" not in prompt["mm_processor_kwargs"]
    assert prompt["prompt"].count("<|image_pad|>") == 2
    assert adapter.seen_args["limit_mm_per_prompt"] == {"image": 64, "video": 0}


def test_text_between_frames_cannot_be_one_video() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen2.5-VL-7B-Instruct", vision="video")
    request = _request(_frames(2), "timelens-7b")  # interleaved encoding
    with pytest.raises(AdapterError, match="vision=chunks or vision=images"):
        asyncio.run(adapter.ground(request))


def test_presets_reproduce_the_timelens_settings() -> None:
    for name, patch in [
        ("qwen2.5-vl", 28),
        ("qwen3-vl", 32),
        ("timelens-7b", 28),
        ("timelens-8b", 32),
    ]:
        frames = PRESETS[name].frames
        assert frames.fps == 2.0 and frames.patch == patch
        assert frames.min_pixels == 64 * patch**2 and frames.total_pixels == 14336 * patch**2
    assert resolve_preset("TencentARC/TimeLens-8B").name == "timelens-8b"
    assert resolve_preset("Qwen/Qwen3-VL-8B-Instruct").name == "qwen3-vl"
    assert resolve_preset("Qwen/Qwen2.5-VL-7B-Instruct").name == "qwen2.5-vl"
    assert resolve_preset("/ckpt/anything", "timelens-7b").name == "timelens-7b"
    with pytest.raises(ConfigError, match="pass preset="):
        resolve_preset("llava-hf/llava-1.5-7b")


def test_sampling_parameters_are_greedy_by_default() -> None:
    assert sampling_params(GenerationConfig()) == {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 128,
        "seed": 0,
    }
    hot = sampling_params(GenerationConfig(temperature=0.7, top_p=0.8, max_new_tokens=9, seed=None))
    assert hot == {"temperature": 0.7, "top_p": 0.8, "max_tokens": 9}


def test_engine_arguments_carry_parallelism_and_limits() -> None:
    config = VLLMConfig(
        model="m",
        tensor_parallel_size=4,
        data_parallel_size=2,
        max_model_len=32768,
        gpu_memory_utilization=0.8,
    )
    args = engine_args(config, "video")
    assert args["tensor_parallel_size"] == 4 and args["data_parallel_size"] == 2
    assert args["max_model_len"] == 32768 and args["gpu_memory_utilization"] == 0.8
    assert "data_parallel_size" not in engine_args(VLLMConfig(model="m"), "video")


def test_concurrent_requests_are_batched_and_answers_routed_back() -> None:
    adapter = FakeVLLM(
        model="Qwen/Qwen2.5-VL-7B-Instruct", preset="timelens-7b", batch_size=4, batch_wait=0.5
    )

    async def main() -> list[str]:
        # request i has i+1 frames, so the engine's answer names i+1 timestamps
        requests = [_request(_frames(i + 1), "timelens-7b", sample_id=f"s{i}") for i in range(10)]
        outs = await asyncio.gather(*(adapter.ground(r) for r in requests))
        await adapter.aclose()
        return [o.text for o in outs]

    texts = asyncio.run(main())
    assert texts == [f"The event happens in {i + 1} - 9 seconds" for i in range(10)]
    assert adapter.batches == [4, 4, 2]
    engine = adapter.engine
    assert all(
        s == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 128, "seed": 0}
        for _, batch in engine.calls
        for s in batch
    )
    assert "MainThread" not in engine.threads  # the engine runs off the event loop


def test_a_failed_engine_call_fails_its_batch_only() -> None:
    class Failing(FakeVLLM):
        engine_factory = staticmethod(lambda: RecordingEngine(fail_first=1))

    adapter = Failing(model="Qwen/Qwen3-VL-8B-Instruct", batch_size=2, batch_wait=0.2)

    async def main() -> tuple[list[Any], str]:
        first = await asyncio.gather(
            *(adapter.ground(_request(_frames(2, side=64), "qwen3-vl")) for _ in range(2)),
            return_exceptions=True,
        )
        second = await adapter.ground(_request(_frames(2, side=64), "qwen3-vl"))
        await adapter.aclose()
        return first, second.text

    first, text = asyncio.run(main())
    assert all(isinstance(e, AdapterError) and "CUDA out of memory" in str(e) for e in first)
    assert text.startswith("The event happens in")


def test_usage_comes_from_the_engine() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct")
    request = _request(_frames(2, side=64), "qwen3-vl")
    out = asyncio.run(adapter.ground(request))
    assert out.usage is not None and out.usage.output_tokens == 7
    assert out.usage.input_tokens == len(adapter.build_prompt(request)["prompt"])


def test_chat_template_of_a_real_processor_renders_the_same_layout(tmp_path) -> None:
    pytest.importorskip("transformers")
    from timelens_eval.tiny_models import build_tiny_model, load_processor

    processor = load_processor(build_tiny_model(tmp_path / "m", "qwen3_vl"))

    class Rendered(FakeVLLM):
        engine_factory = RecordingEngine

        def make_engine(self, args: dict[str, Any]) -> RecordingEngine:
            engine = RecordingEngine()
            engine.render = lambda messages: processor.apply_chat_template(  # type: ignore
                messages, tokenize=False, add_generation_prompt=True
            )
            return engine

    request = _request(_frames(2, side=64), "qwen3-vl")
    real = Rendered(model="Qwen/Qwen3-VL-8B-Instruct").build_prompt(request)
    fake = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct").build_prompt(request)
    assert real["prompt"] == fake["prompt"]


def test_missing_vllm_names_the_extra() -> None:
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    with pytest.raises(MissingDependencyError) as info:
        VLLMAdapter(model="Qwen/Qwen2.5-VL-7B-Instruct")
    assert str(info.value) == (
        "the vllm adapter needs the optional dependency 'vllm': pip install 'timelens-eval[vllm]'"
    )


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'tensor_parallel_size'"):
        FakeVLLM(model="Qwen/Qwen3-VL-8B", tensor_paralel_size=2)
    with pytest.raises(ConfigError, match="batch_size"):
        FakeVLLM(model="Qwen/Qwen3-VL-8B", batch_size=0)
