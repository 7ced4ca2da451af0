"""The ``vllm`` adapter: Qwen-VL family models in an in-process vLLM engine, batched.

Requests that arrive together (the runner keeps many in flight) are gathered into one
``LLM.generate`` call of up to ``batch_size`` prompts, waiting at most ``batch_wait``
seconds after the first one. Each prompt is built from the model family's preset
(:mod:`timelens_eval_adapters.presets`) exactly as the ``transformers`` adapter builds
it, so both adapters send the same inputs:

* ``prompt``: the processor's chat template over the user turn (frames as
  ``<|vision_start|><|video_pad|><|vision_end|>`` or image pads, then the TimeLens
  instruction), with the generation prompt;
* ``multi_modal_data``: ``{"video": ...}`` -- for Qwen3-VL / TimeLens-8B each video is
  ``(frames, metadata)`` with millisecond ``frames_indices`` so vLLM writes the true
  ``<t seconds>`` before each frame pair; for Qwen2.5-VL / TimeLens-7B the frame arrays --
  or ``{"image": [...]}`` with ``vision=images``;
* ``mm_processor_kwargs``: ``fps`` (the frames' real sampling rate: Qwen2.5-VL's MRoPE
  time positions), ``do_sample_frames=False`` (frames are already sampled at 2 fps), and
  ``size`` bounds (64 to 768 tokens per frame) inside which the runner's resized frames
  are left as they are;
* sampling parameters: ``temperature`` 0 (greedy, the TimeLens protocol) unless the run
  asks otherwise, ``top_p``, ``max_tokens`` and ``seed`` from the generation config.

The engine is a thin seam (:class:`Engine`): :meth:`VLLMAdapter.make_engine` builds
:class:`VLLMEngine`, which alone imports vLLM. Everything before it is plain data and
is unit-tested without a GPU.

Arguments: ``model`` (required), ``preset``, ``vision`` (as for ``transformers``),
``tensor_parallel_size``, ``pipeline_parallel_size``, ``data_parallel_size``, ``dtype``,
``gpu_memory_utilization``, ``max_model_len``, ``max_num_seqs``, ``max_videos`` (per
prompt, for chunked input), ``batch_size``, ``batch_wait``, ``trust_remote_code``,
``seed`` (engine seed), ``enforce_eager``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from timelens_eval_adapters.common import validate_config
from timelens_eval_adapters.presets import (
    ModelPreset,
    QwenInputs,
    VisionInput,
    build_qwen_inputs,
    resolve_preset,
)

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GenerationConfig,
    GroundingOutput,
    GroundingRequest,
    Usage,
)
from timelens_eval.errors import ConfigError, MissingDependencyError

__all__ = [
    "Engine",
    "EngineOutput",
    "VLLMAdapter",
    "VLLMConfig",
    "VLLMEngine",
    "engine_args",
    "mm_processor_kwargs",
    "sampling_params",
    "vllm_prompt",
]

MAX_TOKENS_PER_FRAME = 768


class VLLMConfig(BaseModel):
    """The ``--adapter-args`` of the ``vllm`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Hub name or local checkpoint directory.")
    preset: str | None = None
    vision: VisionInput | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    dtype: str = "auto"
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    max_num_seqs: int | None = Field(None, ge=1)
    max_videos: int = Field(1024, ge=1, description="Videos per prompt with vision=chunks.")
    batch_size: int = Field(32, ge=1, description="Prompts per engine call.")
    batch_wait: float = Field(0.05, ge=0, description="Seconds to gather a batch.")
    trust_remote_code: bool = False
    seed: int = 0
    enforce_eager: bool = False


@dataclass(frozen=True)
class EngineOutput:
    """One generated answer and its token counts."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str | None = None


class Engine(Protocol):
    """The seam between request building and vLLM."""

    def render(self, messages: list[dict[str, Any]]) -> str:
        """The chat-templated prompt text (with the generation prompt)."""

    def generate(
        self, prompts: list[dict[str, Any]], sampling: list[dict[str, Any]]
    ) -> list[EngineOutput]:
        """Answers to ``prompts`` (vLLM prompt dicts), one per prompt, in order."""


def _preset_size(preset: ModelPreset) -> dict[str, int]:
    min_pixels = preset.frames.min_pixels or 0
    return {
        "shortest_edge": min_pixels,
        "longest_edge": MAX_TOKENS_PER_FRAME * preset.patch * preset.patch,
    }


def mm_processor_kwargs(inputs: QwenInputs, preset: ModelPreset) -> dict[str, Any]:
    """Processor options sent with one prompt (see the module docstring)."""
    kwargs: dict[str, Any] = {"size": _preset_size(preset)}
    if inputs.videos:
        kwargs["do_sample_frames"] = False
        kwargs["fps"] = inputs.video_fps[0] if len(set(inputs.video_fps)) == 1 else inputs.video_fps
    return kwargs


def vllm_prompt(inputs: QwenInputs, preset: ModelPreset, text: str) -> dict[str, Any]:
    """The vLLM prompt dict for ``inputs`` whose chat-templated text is ``text``."""
    data: dict[str, Any] = {}
    if inputs.videos:
        if preset.family == "qwen3-vl":
            # vLLM reads ``do_sample_frames`` from the metadata and drops it before
            # building the processor's VideoMetadata.
            videos: list[Any] = [
                (v, {**m, "do_sample_frames": False})
                for v, m in zip(inputs.videos, inputs.video_metadata, strict=True)
            ]
        else:
            videos = list(inputs.videos)
        data["video"] = videos[0] if len(videos) == 1 else videos
    if inputs.images:
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(i)) for i in inputs.images]
        data["image"] = images[0] if len(images) == 1 else images
    return {
        "prompt": text,
        "multi_modal_data": data,
        "mm_processor_kwargs": mm_processor_kwargs(inputs, preset),
    }


def sampling_params(generation: GenerationConfig) -> dict[str, Any]:
    """``SamplingParams`` arguments: greedy (temperature 0) unless the run asks otherwise."""
    params: dict[str, Any] = {
        "temperature": float(generation.temperature),
        "top_p": float(generation.top_p) if generation.temperature > 0 else 1.0,
        "max_tokens": generation.max_new_tokens,
    }
    if generation.seed is not None:
        params["seed"] = generation.seed
    return params


def engine_args(config: VLLMConfig, vision: VisionInput) -> dict[str, Any]:
    """``vllm.LLM`` arguments: parallelism, memory, and how many videos a prompt may hold."""
    if vision == "images":
        limit = {"image": config.max_videos, "video": 0}
    elif vision == "chunks":
        limit = {"video": config.max_videos, "image": 0}
    else:
        limit = {"video": 1, "image": 0}
    args: dict[str, Any] = {
        "model": config.model,
        "tensor_parallel_size": config.tensor_parallel_size,
        "pipeline_parallel_size": config.pipeline_parallel_size,
        "dtype": config.dtype,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "trust_remote_code": config.trust_remote_code,
        "seed": config.seed,
        "limit_mm_per_prompt": limit,
        "enforce_eager": config.enforce_eager,
    }
    if config.data_parallel_size > 1:
        args["data_parallel_size"] = config.data_parallel_size
    if config.max_model_len is not None:
        args["max_model_len"] = config.max_model_len
    if config.max_num_seqs is not None:
        args["max_num_seqs"] = config.max_num_seqs
    return args


class VLLMEngine:
    """The real engine: ``vllm.LLM`` plus the checkpoint's processor for the chat template."""

    def __init__(self, args: dict[str, Any]) -> None:
        try:
            import vllm
        except ImportError:
            raise MissingDependencyError("the vllm adapter", "vllm", "vllm") from None
        from transformers import AutoProcessor

        self._vllm = vllm
        self._processor = AutoProcessor.from_pretrained(
            args["model"], trust_remote_code=args.get("trust_remote_code", False)
        )
        self._llm = vllm.LLM(**args)

    def render(self, messages: list[dict[str, Any]]) -> str:
        return str(
            self._processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        )

    def generate(
        self, prompts: list[dict[str, Any]], sampling: list[dict[str, Any]]
    ) -> list[EngineOutput]:
        params = [self._vllm.SamplingParams(**s) for s in sampling]
        results = self._llm.generate(prompts, sampling_params=params, use_tqdm=False)
        outputs = []
        for result in results:
            best = result.outputs[0]
            outputs.append(
                EngineOutput(
                    text=best.text,
                    prompt_tokens=len(result.prompt_token_ids or []),
                    output_tokens=len(best.token_ids),
                    finish_reason=best.finish_reason,
                )
            )
        return outputs


@dataclass
class _Pending:
    prompt: dict[str, Any]
    sampling: dict[str, Any]
    future: asyncio.Future[tuple[EngineOutput, float]]


class VLLMAdapter(Adapter):
    """Qwen2.5-VL, Qwen3-VL, TimeLens-7B/8B in vLLM with the TimeLens presets, batched."""

    name = "vllm"
    model_type = "open"
    requires = ("vllm", "transformers", "torch")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = validate_config(VLLMConfig, kwargs, "vllm")
        self.preset: ModelPreset = resolve_preset(self.config.model, self.config.preset)
        self.vision: VisionInput = self.config.vision or self.preset.vision
        self.default_frames = self.preset.frames  # type: ignore[misc]
        self.default_template = self.preset.template  # type: ignore[misc]
        self.default_encoding = self.preset.encoding  # type: ignore[misc]
        self.engine: Engine = self.make_engine(engine_args(self.config, self.vision))
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches: list[int] = []
        """Sizes of the engine calls made so far (for logs and tests)."""

    def make_engine(self, args: dict[str, Any]) -> Engine:
        """Build the engine (override to substitute another :class:`Engine`)."""
        if importlib.util.find_spec("vllm") is None:
            raise MissingDependencyError("the vllm adapter", "vllm", "vllm")
        return VLLMEngine(args)

    def build_prompt(self, request: GroundingRequest) -> dict[str, Any]:
        """The vLLM prompt dict of ``request`` (chat template, vision data, processor options)."""
        assert request.message is not None
        inputs = build_qwen_inputs(request.message, self.preset, self.vision)
        return vllm_prompt(inputs, self.preset, self.engine.render(inputs.messages))

    async def _run_batches(self) -> None:
        assert self._queue is not None
        queue, config = self._queue, self.config
        while True:
            batch = [await queue.get()]
            deadline = time.perf_counter() + config.batch_wait
            while len(batch) < config.batch_size:
                left = deadline - time.perf_counter()
                try:
                    batch.append(
                        queue.get_nowait()
                        if left <= 0
                        else await asyncio.wait_for(queue.get(), timeout=left)
                    )
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
            batch = [p for p in batch if not p.future.cancelled()]
            if not batch:
                continue
            self.batches.append(len(batch))
            start = time.perf_counter()
            try:
                outputs = await asyncio.to_thread(
                    self.engine.generate, [p.prompt for p in batch], [p.sampling for p in batch]
                )
                if len(outputs) != len(batch):
                    raise RuntimeError(f"engine returned {len(outputs)} answers for {len(batch)}")
            except Exception as exc:  # one failed call fails its batch, not the adapter
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(
                            AdapterError(f"vllm generate failed: {reason}", retryable=False)
                        )
                continue
            seconds = time.perf_counter() - start
            for p, out in zip(batch, outputs, strict=True):
                if not p.future.done():
                    p.future.set_result((out, seconds))

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Queue one request for the next batch and wait for its answer."""
        if request.message is None:
            raise AdapterError("vllm adapter needs a prompt message with frames", retryable=False)
        try:
            prompt = await asyncio.to_thread(self.build_prompt, request)
        except ConfigError as exc:
            raise AdapterError(str(exc), retryable=False) from None
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run_batches())
        future: asyncio.Future[tuple[EngineOutput, float]] = (
            asyncio.get_running_loop().create_future()
        )
        await self._queue.put(_Pending(prompt, sampling_params(request.generation), future))
        out, seconds = await future
        return GroundingOutput(
            text=out.text,
            usage=Usage(input_tokens=out.prompt_tokens, output_tokens=out.output_tokens),
            latency_s=seconds,
            raw={"finish_reason": out.finish_reason, "preset": self.preset.name},
        )

    async def aclose(self) -> None:
        """Stop the batching task."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
