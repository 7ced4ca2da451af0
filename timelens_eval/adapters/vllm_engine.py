"""The ``vllm`` adapter: Qwen-VL family models in an in-process vLLM engine (vLLM 0.11+).

The engine is vLLM's asynchronous engine (``AsyncLLMEngine``), which batches continuously:
every request the runner has in flight goes into the engine as soon as its frames are
ready, and each answer comes back as soon as it is finished; no request waits for a batch
to fill or for the slowest answer of a batch. How many requests the runner keeps in flight
is the adapter's ``max_in_flight`` (default 64), not ``--concurrency`` (which paces API
adapters); the engine's own scheduler (``max_num_seqs``) decides how many run at once.

Each prompt is built from the model family's preset (:mod:`timelens_eval.adapters.presets`)
exactly as the ``transformers`` adapter builds its processor call, so both engines give the
model the same input (checked token for token by the tests):

* ``prompt``: the processor's chat template over the user turn (the TimeLens instruction
  after the frames), with the generation prompt;
* ``multi_modal_data`` and ``mm_processor_kwargs``:
  :func:`~timelens_eval.adapters.presets.vllm_multimodal` -- Qwen3-VL / TimeLens-8B videos
  as ``(frames, metadata)`` with the source frame indices and rate, so vLLM's processor
  writes the official ``<t seconds>``; Qwen2.5-VL videos with ``fps`` (its MRoPE time
  positions); TimeLens-7B as one 2-frame video per temporal patch after its ``"0.0s"``;
  always ``do_resize=False`` and ``do_sample_frames=False``, since the frames arrive
  sampled and sized as qwen-vl-utils makes them;
* sampling: the checkpoint's generation config (vLLM's ``get_diff_sampling_param``, e.g. a
  ``repetition_penalty``), as Hugging Face ``generate`` in the TimeLens evaluation applies
  it, then ``temperature`` 0 (greedy) unless the run asks otherwise, ``max_tokens`` = the
  run's ``max_new_tokens`` (512 by default) and ``seed``.

The engine is a thin seam (:class:`Engine`): :meth:`VLLMAdapter.make_engine` builds
:class:`VLLMEngine`, which alone imports vLLM. Everything before it is plain data and is
tested without a GPU, including through vLLM's own multimodal processor where vLLM can be
installed (see ``docs/adapters.md``).

Arguments: ``model`` (required), ``preset``, ``vision`` (as for ``transformers``),
``tensor_parallel_size``, ``pipeline_parallel_size``, ``data_parallel_size``, ``dtype``,
``gpu_memory_utilization``, ``max_model_len``, ``max_num_seqs``, ``max_in_flight``,
``trust_remote_code``, ``seed`` (engine seed), ``enforce_eager``, ``engine_args`` (a JSON
object of further ``AsyncEngineArgs``, passed through).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import time
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GenerationConfig,
    GroundingOutput,
    GroundingRequest,
    Usage,
)
from timelens_eval.adapters.common import validate_config
from timelens_eval.adapters.presets import (
    ModelPreset,
    QwenInputs,
    VisionInput,
    build_qwen_inputs,
    resolve_preset,
    vllm_multimodal,
)
from timelens_eval.errors import ConfigError, MissingDependencyError
from timelens_eval.video.qwen_sampling import DEFAULT_MAX_FRAMES

__all__ = [
    "MIN_VLLM_VERSION",
    "Engine",
    "EngineOutput",
    "VLLMAdapter",
    "VLLMConfig",
    "VLLMEngine",
    "engine_args",
    "sampling_params",
    "vllm_prompt",
]

MIN_VLLM_VERSION = (0, 11, 0)
"""The first vLLM release that runs Qwen3-VL."""


class VLLMConfig(BaseModel):
    """The ``--adapter-args`` of the ``vllm`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Hub name or local checkpoint directory.")
    preset: str | None = Field(None, description="Model-family preset; default from the name.")
    vision: VisionInput | None = Field(None, description="How frames are passed.")
    tensor_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    dtype: str = "auto"
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    max_num_seqs: int | None = Field(None, ge=1, description="Sequences the engine runs at once.")
    max_in_flight: int = Field(
        64, ge=1, description="Requests the run keeps in the engine (their frames in memory)."
    )
    trust_remote_code: bool = False
    seed: int = 0
    enforce_eager: bool = False
    engine_args: dict[str, Any] = Field(
        default_factory=dict, description="Further AsyncEngineArgs, passed through."
    )


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

    def default_sampling(self) -> dict[str, Any]:
        """The checkpoint's sampling defaults (vLLM ``SamplingParams`` names)."""

    async def generate(
        self, prompt: dict[str, Any], sampling: dict[str, Any], request_id: str
    ) -> EngineOutput:
        """The answer to one vLLM prompt dict."""

    async def aclose(self) -> None:
        """Shut the engine down."""


def vllm_prompt(inputs: QwenInputs, preset: ModelPreset, text: str) -> dict[str, Any]:
    """The vLLM prompt dict for ``inputs`` whose chat-templated text is ``text``."""
    return {"prompt": text, **vllm_multimodal(inputs, preset)}


def sampling_params(
    generation: GenerationConfig, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``SamplingParams`` arguments: the checkpoint's ``defaults``, then the run's decoding.

    Greedy (temperature 0) unless the run asks for sampling; then its ``temperature`` and
    ``top_p``. ``max_tokens`` is always the run's ``max_new_tokens``.
    """
    params = dict(defaults or {})
    params["max_tokens"] = generation.max_new_tokens
    params["temperature"] = float(generation.temperature)
    if generation.temperature > 0:
        params["top_p"] = float(generation.top_p)
    if generation.seed is not None:
        params["seed"] = generation.seed
    return params


def engine_args(config: VLLMConfig, vision: VisionInput) -> dict[str, Any]:
    """``AsyncEngineArgs``: parallelism, memory, and how many vision items a prompt may hold.

    A prompt holds one video, or with ``vision=chunks`` one video per temporal patch (at
    most 768 frames, so 384 chunks), or with ``vision=images`` one image per frame.
    """
    chunks = DEFAULT_MAX_FRAMES // 2
    if vision == "images":
        limit = {"image": DEFAULT_MAX_FRAMES, "video": 0}
    elif vision == "chunks":
        limit = {"video": chunks, "image": 0}
    else:
        limit = {"video": 1, "image": 0}
    args: dict[str, Any] = {
        "model": config.model,
        "tensor_parallel_size": config.tensor_parallel_size,
        "pipeline_parallel_size": config.pipeline_parallel_size,
        "data_parallel_size": config.data_parallel_size,
        "dtype": config.dtype,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "trust_remote_code": config.trust_remote_code,
        "seed": config.seed,
        "limit_mm_per_prompt": limit,
        "enforce_eager": config.enforce_eager,
    }
    if config.max_model_len is not None:
        args["max_model_len"] = config.max_model_len
    if config.max_num_seqs is not None:
        args["max_num_seqs"] = config.max_num_seqs
    clash = sorted(set(config.engine_args) & set(args))
    if clash:
        raise ConfigError(f"vllm engine_args repeat adapter arguments: {', '.join(clash)}")
    args.update(config.engine_args)
    return args


def check_vllm_version(version: str) -> None:
    """Refuse vLLM releases older than :data:`MIN_VLLM_VERSION` with one clear line."""
    numbers = []
    for part in version.split(".")[:3]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        numbers.append(int(digits or 0))
    if tuple(numbers) < MIN_VLLM_VERSION:
        need = ".".join(map(str, MIN_VLLM_VERSION))
        raise ConfigError(
            f"vllm {version} is too old: the vllm adapter needs vllm>={need} (Qwen3-VL); "
            "pip install -U 'timelens-eval[vllm]'"
        )


class VLLMEngine:
    """The real engine: vLLM's ``AsyncLLMEngine`` plus the checkpoint's processor for the
    chat template."""

    def __init__(self, args: dict[str, Any]) -> None:
        try:
            import vllm
        except ImportError:
            raise MissingDependencyError("the vllm adapter", "vllm", "vllm") from None
        check_vllm_version(vllm.__version__)
        from transformers import AutoProcessor

        self._vllm = vllm
        self._processor = AutoProcessor.from_pretrained(
            args["model"], trust_remote_code=args.get("trust_remote_code", False)
        )
        self._engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(**args))

    def render(self, messages: list[dict[str, Any]]) -> str:
        return str(
            self._processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        )

    def default_sampling(self) -> dict[str, Any]:
        return dict(self._engine.model_config.get_diff_sampling_param())

    async def generate(
        self, prompt: dict[str, Any], sampling: dict[str, Any], request_id: str
    ) -> EngineOutput:
        params = self._vllm.SamplingParams(**sampling)
        final = None
        async for output in self._engine.generate(prompt, params, request_id):
            final = output
        if final is None or not final.outputs:
            raise RuntimeError("the engine returned no answer")
        best = final.outputs[0]
        return EngineOutput(
            text=best.text,
            prompt_tokens=len(final.prompt_token_ids or []),
            output_tokens=len(best.token_ids),
            finish_reason=best.finish_reason,
        )

    async def aclose(self) -> None:
        self._engine.shutdown()


class VLLMAdapter(Adapter):
    """Qwen2.5-VL, Qwen3-VL, TimeLens-7B/8B in vLLM's async engine with the TimeLens presets."""

    name = "vllm"
    config_model = VLLMConfig
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
        self.max_in_flight = self.config.max_in_flight
        self.engine: Engine = self.make_engine(engine_args(self.config, self.vision))
        self._defaults: dict[str, Any] | None = None
        self._ids = itertools.count()

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

    def sampling(self, generation: GenerationConfig) -> dict[str, Any]:
        """The ``SamplingParams`` of a request: checkpoint defaults, then the run's decoding."""
        if self._defaults is None:
            self._defaults = self.engine.default_sampling()
        return sampling_params(generation, self._defaults)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Send one request into the engine and wait for its answer."""
        if request.message is None:
            raise AdapterError("vllm adapter needs a prompt message with frames", retryable=False)
        try:
            prompt = await asyncio.to_thread(self.build_prompt, request)
        except ConfigError as exc:
            raise AdapterError(str(exc), retryable=False) from None
        start = time.perf_counter()
        request_id = f"{request.sample_id}-{next(self._ids)}"
        try:
            out = await self.engine.generate(prompt, self.sampling(request.generation), request_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failed request, not the adapter
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise AdapterError(f"vllm generate failed: {reason}", retryable=False) from None
        return GroundingOutput(
            text=out.text,
            usage=Usage(input_tokens=out.prompt_tokens, output_tokens=out.output_tokens),
            latency_s=time.perf_counter() - start,
            raw={"finish_reason": out.finish_reason, "preset": self.preset.name},
        )

    async def aclose(self) -> None:
        """Shut the engine down."""
        await self.engine.aclose()
