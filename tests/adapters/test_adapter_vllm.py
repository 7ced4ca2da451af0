"""The ``vllm`` adapter's request building, presets and streaming, without vLLM or a GPU.

vLLM needs a CUDA machine and model weights, so the engine is replaced at its documented
seam (:class:`Engine`) by a recording engine; everything the adapter sends to vLLM --
prompt text, multimodal data, processor options, sampling parameters, engine arguments --
is asserted here. What vLLM's own processor makes of those prompts is checked in
``test_vllm_processing.py``; that they equal the official input, in
``test_input_fidelity.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import numpy as np
import pytest

from timelens_eval.adapters import AdapterError, GenerationConfig, GroundingRequest
from timelens_eval.adapters.presets import PRESETS, frames_fps, resolve_preset, video_metadata
from timelens_eval.adapters.vllm_engine import (
    EngineOutput,
    VLLMAdapter,
    VLLMConfig,
    check_vllm_version,
    engine_args,
    sampling_params,
)
from timelens_eval.errors import ConfigError, MissingDependencyError
from timelens_eval.messages import VideoSource
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
    """Answers each prompt with the number of ``s<`` (timestamps) in it, after ``delay``."""

    def __init__(self, defaults: dict[str, Any] | None = None, fail: set[str] | None = None):
        self.calls: list[tuple[dict[str, Any], dict[str, Any], str]] = []
        self.defaults = defaults or {}
        self.fail = fail or set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.closed = False
        self.delay: float | None = None

    def render(self, messages: list[dict[str, Any]]) -> str:
        return qwen_text(messages)

    def default_sampling(self) -> dict[str, Any]:
        return dict(self.defaults)

    async def generate(
        self, prompt: dict[str, Any], sampling: dict[str, Any], request_id: str
    ) -> EngineOutput:
        self.calls.append((prompt, sampling, request_id))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            # a request's answer takes as long as it has frames: short ones finish first
            pads = prompt["prompt"].count("<|video_pad|>")
            await asyncio.sleep(self.delay if self.delay is not None else 0.01 * pads)
            if request_id.split("-")[0] in self.fail:
                raise RuntimeError("CUDA out of memory")
        finally:
            self.in_flight -= 1
        return EngineOutput(
            text=f"The event happens in {prompt['prompt'].count('s<')} - 9 seconds",
            prompt_tokens=len(prompt["prompt"]),
            output_tokens=7,
            finish_reason="stop",
        )

    async def aclose(self) -> None:
        self.closed = True


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
    times = [3.0, 3.5, 4.0, 4.5]  # a clip starting at 3 s (pts sampler: millisecond indices)
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
    # the frames arrive sampled and sized: nothing is resized or resampled again
    assert prompt["mm_processor_kwargs"] == {"do_sample_frames": False, "do_resize": False}


def test_qwen3_video_metadata_is_the_source_indices_and_rate() -> None:
    """Frames of the qwen-vl-utils sampler carry the metadata qwen-vl-utils gives."""
    adapter = FakeVLLM(model="TencentARC/TimeLens-8B")
    frames = _frames(4, [0.0, 0.5245, 1.049, 1.5735], side=64)
    request = _request(frames, "timelens-8b")
    source = VideoSource(fps=9.532888465204957, frame_indices=(0, 5, 10, 15), total_frames=335)
    message = request.message
    assert message is not None
    from dataclasses import replace

    request = replace(request, message=replace(message, video=source))
    video, meta = adapter.build_prompt(request)["multi_modal_data"]["video"]
    assert meta == {
        "fps": 9.532888465204957,
        "frames_indices": [0, 5, 10, 15],
        "total_num_frames": 335,
        "do_sample_frames": False,
    }


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
    assert prompt["mm_processor_kwargs"]["do_resize"] is False
    assert "size" not in prompt["mm_processor_kwargs"]
    assert adapter.seen_args["limit_mm_per_prompt"] == {"video": 1, "image": 0}


def test_timelens_7b_sends_one_video_per_temporal_patch_after_its_timestamp() -> None:
    adapter = FakeVLLM(model="TencentARC/TimeLens-7B")
    assert (adapter.preset.name, adapter.vision) == ("timelens-7b", "chunks")
    assert (adapter.default_template, adapter.default_encoding) == (
        "timelens-7b",
        "interleaved-patches",
    )
    frames = _frames(6)
    prompt = adapter.build_prompt(_request(frames, "timelens-7b"))
    pad = "<|vision_start|><|video_pad|><|vision_end|>"
    # one timestamp per pair of frames: the time of its first frame
    assert prompt["prompt"].startswith(f"<|im_start|>user\n0.0s{pad}1.0s{pad}2.0s{pad}You are")
    videos = prompt["multi_modal_data"]["video"]
    assert [v.shape for v in videos] == [(2, 56, 56, 3)] * 3
    np.testing.assert_array_equal(np.concatenate(videos), frames.images)
    assert prompt["mm_processor_kwargs"]["fps"] == 2.0
    # 768 frames at most: 384 temporal patches
    assert adapter.seen_args["limit_mm_per_prompt"] == {"video": 384, "image": 0}


def test_images_mode_sends_pil_images() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct", vision="images")
    prompt = adapter.build_prompt(_request(_frames(2, side=64), "qwen3-vl"))
    images = prompt["multi_modal_data"]["image"]
    assert [im.size for im in images] == [(64, 64), (64, 64)]
    assert "do_sample_frames" not in prompt["mm_processor_kwargs"]
    assert prompt["prompt"].count("<|image_pad|>") == 2
    assert adapter.seen_args["limit_mm_per_prompt"] == {"image": 768, "video": 0}


def test_text_between_frames_cannot_be_one_video() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen2.5-VL-7B-Instruct", vision="video")
    request = _request(_frames(4), "timelens-7b")  # timestamps between frame pairs
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
        assert frames.sampler == "qwen-vl-utils" and frames.max_frames is None  # 768 cap
    assert resolve_preset("TencentARC/TimeLens-8B").name == "timelens-8b"
    assert resolve_preset("Qwen/Qwen3-VL-8B-Instruct").name == "qwen3-vl"
    assert resolve_preset("Qwen/Qwen2.5-VL-7B-Instruct").name == "qwen2.5-vl"
    assert resolve_preset("/ckpt/anything", "timelens-7b").name == "timelens-7b"
    with pytest.raises(ConfigError, match="pass preset="):
        resolve_preset("llava-hf/llava-1.5-7b")


def test_sampling_is_the_checkpoint_config_then_greedy_with_512_tokens() -> None:
    assert sampling_params(GenerationConfig()) == {
        "temperature": 0.0,
        "max_tokens": 512,
        "seed": 0,
    }
    # the checkpoint's generation config (vLLM's get_diff_sampling_param) is kept, as HF
    # generate keeps it; only the decoding the run asks for replaces it
    checkpoint = {"repetition_penalty": 1.05, "temperature": 0.7, "top_p": 0.8, "top_k": 20}
    greedy = sampling_params(GenerationConfig(max_new_tokens=64), checkpoint)
    assert greedy == {
        "repetition_penalty": 1.05,
        "temperature": 0.0,
        "top_p": 0.8,
        "top_k": 20,
        "max_tokens": 64,
        "seed": 0,
    }
    hot = sampling_params(GenerationConfig(temperature=0.7, top_p=0.9, max_new_tokens=9, seed=None))
    assert hot == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 9}


def test_engine_arguments_carry_parallelism_and_pass_others_through() -> None:
    config = VLLMConfig(
        model="m",
        tensor_parallel_size=4,
        data_parallel_size=2,
        max_model_len=32768,
        gpu_memory_utilization=0.8,
        trust_remote_code=True,
        engine_args={"enable_prefix_caching": False, "mm_processor_cache_gb": 0},
    )
    args = engine_args(config, "video")
    assert args["tensor_parallel_size"] == 4 and args["data_parallel_size"] == 2
    assert args["max_model_len"] == 32768 and args["gpu_memory_utilization"] == 0.8
    assert args["trust_remote_code"] is True
    assert args["enable_prefix_caching"] is False and args["mm_processor_cache_gb"] == 0
    with pytest.raises(ConfigError, match="repeat adapter arguments: dtype"):
        engine_args(VLLMConfig(model="m", engine_args={"dtype": "half"}), "video")


def test_requests_stream_into_the_engine_and_finish_in_their_own_time() -> None:
    adapter = FakeVLLM(model="Qwen/Qwen2.5-VL-7B-Instruct", preset="timelens-7b")

    async def main() -> tuple[list[str], list[str]]:
        # request i has 2 * (10 - i) frames: later requests are shorter and finish first
        requests = [
            _request(_frames(2 * (10 - i)), "timelens-7b", sample_id=f"s{i}") for i in range(10)
        ]
        order: list[str] = []

        async def one(r: GroundingRequest) -> str:
            out = await adapter.ground(r)
            order.append(r.sample_id)
            return out.text

        texts = await asyncio.gather(*(one(r) for r in requests))
        await adapter.aclose()
        return texts, order

    texts, order = asyncio.run(main())
    assert texts == [f"The event happens in {10 - i} - 9 seconds" for i in range(10)]
    engine = adapter.engine
    assert engine.most_in_flight == 10  # no fixed batches: all ten were in the engine at once
    assert order[0] == "s9" and order[-1] == "s0"  # no request waited for a slower one
    assert all(s == {"temperature": 0.0, "max_tokens": 512, "seed": 0} for _, s, _ in engine.calls)
    assert len({rid for _, _, rid in engine.calls}) == 10
    assert engine.closed


def test_the_run_keeps_max_in_flight_requests_in_the_engine(tmp_path) -> None:
    """``--concurrency`` paces API adapters; the engine sees the adapter's ``max_in_flight``."""
    from timelens_eval.benchmarks.base import Benchmark, Sample
    from timelens_eval.runner import RunOptions, run_benchmark
    from timelens_eval.spans import Span
    from timelens_eval.video.testing import write_indexed_video
    from timelens_eval.video.types import FrameSpec

    write_indexed_video(tmp_path / "a.mp4", np.arange(0, 6, 0.25))
    samples = [
        Sample(f"s#{i}", "a", f"event {i}", 6.0, (Span(1, 3),), video="a.mp4") for i in range(12)
    ]
    bench = Benchmark("vids", samples, "h", video_root=str(tmp_path))
    adapter = FakeVLLM(model="Qwen/Qwen3-VL-8B-Instruct", max_in_flight=16)
    adapter.engine.delay = 1.0  # answers are slow next to decoding: requests pile up
    options = RunOptions(
        concurrency=2,
        runs_dir=tmp_path / "runs",
        bootstrap=0,
        decode_workers=1,
        frames=FrameSpec(fps=2.0, max_pixels=64 * 64, patch=32),  # pts: no torchvision needed
    )
    outcome = run_benchmark(adapter, bench, options)
    assert outcome.errors == 0 and outcome.result is not None
    assert adapter.engine.most_in_flight > 2


def test_a_failed_request_fails_alone() -> None:
    class Failing(FakeVLLM):
        engine_factory = staticmethod(lambda: RecordingEngine(fail={"bad"}))

    adapter = Failing(model="Qwen/Qwen3-VL-8B-Instruct")

    async def main() -> list[Any]:
        requests = [_request(_frames(2, side=64), "qwen3-vl", sample_id=i) for i in ("bad", "ok")]
        outs = await asyncio.gather(*(adapter.ground(r) for r in requests), return_exceptions=True)
        await adapter.aclose()
        return outs

    bad, ok = asyncio.run(main())
    assert isinstance(bad, AdapterError) and "CUDA out of memory" in str(bad)
    assert not bad.retryable
    assert ok.text.startswith("The event happens in")


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


def test_vllm_older_than_0_11_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"vllm 0.10.2 is too old: .*vllm>=0.11.0"):
        check_vllm_version("0.10.2")
    check_vllm_version("0.11.0")
    check_vllm_version("0.12.0rc1.dev12+g3b2d")


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'tensor_parallel_size'"):
        FakeVLLM(model="Qwen/Qwen3-VL-8B", tensor_paralel_size=2)
    with pytest.raises(ConfigError, match="max_in_flight"):
        FakeVLLM(model="Qwen/Qwen3-VL-8B", max_in_flight=0)
