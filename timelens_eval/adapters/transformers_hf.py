"""The ``transformers`` adapter: local Hugging Face vision-language models, CPU or GPU.

It loads ``model`` (a hub name or a local checkpoint directory, e.g. one of ours after
RLVR) with ``AutoModelForImageTextToText`` and ``AutoProcessor`` and answers one request
at a time:

1. the prompt message becomes Qwen-VL chat content and vision inputs with the model
   family's preset (:mod:`timelens_eval.adapters.presets`): one video for Qwen2.5-VL,
   Qwen3-VL and TimeLens-8B; for TimeLens-7B, one 2-frame video per temporal patch, each
   after its ``"0.0s"`` text, or, when the checkpoint has its own processor and
   ``trust_remote_code`` is on, the whole video with its metadata for that processor to
   lay out (as the TimeLens evaluation does);
2. the processor's chat template renders the turn (with the generation prompt), and the
   processor is called as :func:`~timelens_eval.adapters.presets.processor_call` says:
   the frames, their metadata (source frame indices and rate, as qwen-vl-utils gives
   them), ``do_sample_frames=False`` (the runner already sampled the frames) and
   ``do_resize=False`` (they are already sized, as TimeLens does);
3. ``generate`` decodes greedily (``do_sample=False``) unless the request's temperature
   is above 0, for at most ``max_new_tokens``; the new tokens are decoded with special
   tokens skipped. A sampled request seeds torch with its seed and its sample id hashed
   together (:func:`request_seed`), so it is reproducible, and the samples of a run do not
   all draw the same random numbers.

Usage counts the prompt's tokens (text and visual) and the generated tokens.

The Hugging Face video processors need ``torchvision``. Where it is missing (CPU-only
installs without a matching wheel) ``vision=images`` passes every frame as an image
through the same processor and model; the presets' ``video``/``chunks`` inputs then
raise :class:`~timelens_eval.errors.MissingDependencyError` naming the
``transformers-video`` extra (``torchvision`` must match the installed ``torch`` build).

Arguments: ``model`` (required), ``preset`` (``qwen2.5-vl``, ``qwen3-vl``,
``timelens-7b``, ``timelens-8b``; default: from the model name), ``vision`` (``video``,
``chunks``, ``images``; default: the preset's), ``device`` (``auto``, ``cpu``, ``cuda``,
``cuda:N``), ``name`` (display name in results), ``dtype`` (``auto``, ``float32``,
``bfloat16``, ``float16``),
``attn_implementation`` (e.g. ``flash_attention_2``, ``sdpa``), ``trust_remote_code``
(default: on only for the ``timelens-7b`` preset when the checkpoint declares its own
processor code, as the TimeLens evaluation loads it; the spec records the value used),
``local_files_only``.

A local checkpoint directory with a ``timelens_eval_inputs.json`` (written by
``timelens-eval rlvr reference``, see :mod:`timelens_eval.checkpoint_inputs`) gives the
preset, ``vision``, frames, template and encoding it was trained with; they take the
place of the family preset's defaults.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
import time
from typing import Any, Literal

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
    is_checkpoint_processor,
    processor_call,
    resolve_preset,
)
from timelens_eval.checkpoint_inputs import read_checkpoint_inputs
from timelens_eval.errors import ConfigError, MissingDependencyError

__all__ = [
    "TransformersAdapter",
    "TransformersConfig",
    "declares_own_processor",
    "generate_kwargs",
    "hf_processor_inputs",
]


class TransformersConfig(BaseModel):
    """The ``--adapter-args`` of the ``transformers`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Hub name or local checkpoint directory.")
    name: str | None = Field(None, description="Display name in results (default: model).")
    preset: str | None = Field(None, description="Model-family preset; default from the name.")
    vision: VisionInput | None = Field(None, description="How frames are passed.")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: str | None = None
    trust_remote_code: bool | None = Field(
        None,
        description="Run the checkpoint's own model/processor code; default: only for the "
        "timelens-7b preset when the checkpoint declares its own processor.",
    )
    local_files_only: bool = False


def hf_processor_inputs(processor: Any, inputs: QwenInputs, preset: ModelPreset) -> dict[str, Any]:
    """The whole processor call the adapter makes for ``inputs``: the chat-templated text
    (with the generation prompt), the vision arrays and their options
    (:func:`~timelens_eval.adapters.presets.processor_call`; a checkpoint's own processor
    gets the whole video with its metadata). Training code calls it too, so a model is
    trained on exactly the input it is evaluated on."""
    text = processor.apply_chat_template(
        inputs.messages, tokenize=False, add_generation_prompt=True
    )
    own = is_checkpoint_processor(processor)
    return {
        "text": [text],
        "return_tensors": "pt",
        "padding": True,
        **processor_call(inputs, preset, own_processor=own),
    }


def _is_dir(model: str) -> bool:
    from pathlib import Path

    try:
        return Path(model).is_dir()
    except OSError:
        return False


_PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")


def declares_own_processor(model: str, *, local_files_only: bool = False) -> bool:
    """Whether checkpoint ``model`` (a directory or a Hub name) ships its own processor code.

    True when one of its processor configs maps ``AutoProcessor`` to a module of its own
    (``auto_map``), as TimeLens-7B's does.
    """
    import json
    from pathlib import Path

    for name in _PROCESSOR_FILES:
        if _is_dir(model):
            file: Path | None = Path(model) / name
        else:
            try:
                from huggingface_hub import hf_hub_download

                file = Path(hf_hub_download(model, name, local_files_only=local_files_only))
            except Exception:  # absent, offline, or not a Hub name: nothing declared there
                file = None
        if file is None or not file.is_file():
            continue
        try:
            auto_map = json.loads(file.read_text()).get("auto_map") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(auto_map, dict) and "AutoProcessor" in auto_map:
            return True
    return False


def generate_kwargs(generation: GenerationConfig) -> dict[str, Any]:
    """``generate()`` arguments for ``generation``: greedy at temperature 0, else sampling."""
    if generation.temperature <= 0:
        return {
            "do_sample": False,
            "max_new_tokens": generation.max_new_tokens,
            "temperature": None,
            "top_p": None,
            "top_k": None,
        }
    return {
        "do_sample": True,
        "max_new_tokens": generation.max_new_tokens,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "top_k": None,
    }


def request_seed(seed: int, sample_id: str) -> int:
    """The torch seed of one request: ``seed`` and ``sample_id`` hashed together (SHA-256).

    One seed for every request would restart the same random stream for each sample, so
    sampled answers would be correlated across the samples of a run.
    """
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


class TransformersAdapter(Adapter):
    """A local Hugging Face image-text-to-text model with the family's TimeLens preset."""

    name = "transformers"
    config_model = TransformersConfig
    model_type = "open"
    requires = ("torch", "transformers")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = validate_config(TransformersConfig, kwargs, "transformers")
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError("the transformers adapter", "transformers", module)
        # A local checkpoint may record the inputs it was trained on; they replace the
        # family preset's defaults (explicit arguments still win).
        inputs = read_checkpoint_inputs(self.config.model) if _is_dir(self.config.model) else None
        trained = inputs.adapter_args if inputs is not None else {}
        self.preset: ModelPreset = resolve_preset(
            self.config.model, self.config.preset or trained.get("preset")
        )
        trust = self.config.trust_remote_code
        if trust is None:
            trust = self.preset.name == "timelens-7b" and declares_own_processor(
                self.config.model, local_files_only=self.config.local_files_only
            )
        self.trust_remote_code = trust
        self.args["trust_remote_code"] = trust
        self._lock = threading.Lock()
        self._load()
        # TimeLens-7B's own processor writes the timestamps itself from the whole video.
        self.own_processor = is_checkpoint_processor(self._processor)
        vision = self.config.vision or trained.get("vision") or self.preset.vision
        encoding = inputs.encoding if inputs else self.preset.encoding
        if self.own_processor and self.config.vision is None:
            vision, encoding = "video", "none"
        self.vision: VisionInput = vision
        if self.vision != "images" and importlib.util.find_spec("torchvision") is None:
            raise MissingDependencyError(
                f"video input (vision={self.vision}) of the transformers adapter",
                "transformers-video",
                "torchvision",
            )
        # Presets of this model family; the runner uses them unless overridden.
        frames = inputs.frames if inputs else self.preset.frames
        if frames.sampler == "qwen-vl-utils" and importlib.util.find_spec("torchvision") is None:
            # Frames as images (no video processor) are not the official input anyway; the
            # qwen-vl-utils sampler resizes with torchvision, so sample by timestamp here.
            frames = frames.model_copy(update={"sampler": "pts"})
        self.default_frames = frames  # type: ignore[misc]
        self.default_template = (  # type: ignore[misc]
            inputs.template if inputs else self.preset.template
        )
        self.default_encoding = encoding  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"TransformersAdapter(model={self.config.model!r}, preset={self.preset.name!r})"

    @property
    def model(self) -> str:
        """The ``name`` argument, else the hub name or checkpoint path."""
        return self.config.name or self.config.model

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        from timelens_eval.tiny_models import load_processor

        config = self.config
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)
        options: dict[str, Any] = {
            "dtype": dtype,
            "trust_remote_code": self.trust_remote_code,
            "local_files_only": config.local_files_only,
        }
        if config.attn_implementation:
            options["attn_implementation"] = config.attn_implementation
        try:
            model = AutoModelForImageTextToText.from_pretrained(config.model, **options)
            if self.trust_remote_code:
                from transformers import AutoProcessor

                processor = AutoProcessor.from_pretrained(
                    config.model, trust_remote_code=True, local_files_only=config.local_files_only
                )
            else:
                processor = load_processor(config.model)
        except (OSError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise ConfigError(
                f"transformers adapter: cannot load {config.model!r}: {reason}"
            ) from None
        self._device = torch.device(device)
        self._model = model.to(self._device).eval()  # type: ignore[arg-type]
        self._processor = processor
        self._torch = torch

    def processor_inputs(self, inputs: QwenInputs) -> dict[str, Any]:
        """The processor call for ``inputs``: rendered text, vision arrays and their options."""
        return hf_processor_inputs(self._processor, inputs, self.preset)

    def _generate(self, request: GroundingRequest) -> GroundingOutput:
        assert request.message is not None
        torch = self._torch
        start = time.perf_counter()
        inputs = build_qwen_inputs(request.message, self.preset, self.vision)
        batch = self._processor(**self.processor_inputs(inputs)).to(self._device)
        prompt_len = int(batch["input_ids"].shape[1])
        kwargs = generate_kwargs(request.generation)
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if request.generation.seed is not None:
                torch.manual_seed(request_seed(request.generation.seed, request.sample_id))
            output = self._model.generate(**batch, **kwargs)
        new = output[0, prompt_len:]
        pad = self._processor.tokenizer.pad_token_id
        n_new = int((new != pad).sum()) if pad is not None else int(new.numel())
        text = self._processor.decode(new, skip_special_tokens=True)
        return GroundingOutput(
            text=text,
            usage=Usage(input_tokens=prompt_len, output_tokens=n_new),
            latency_s=time.perf_counter() - start,
            raw={"prompt_tokens": prompt_len, "vision": self.vision, "preset": self.preset.name},
        )

    def _locked_generate(self, request: GroundingRequest) -> GroundingOutput:
        with self._lock:
            return self._generate(request)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Answer one request (one model call at a time, in a worker thread)."""
        if request.message is None:
            raise AdapterError(
                "transformers adapter needs a prompt message with frames", retryable=False
            )
        try:
            return await asyncio.to_thread(self._locked_generate, request)
        except ConfigError as exc:
            raise AdapterError(str(exc), retryable=False) from None
        except RuntimeError as exc:  # e.g. CUDA out of memory on one long video
            reason = " ".join(str(exc).split())[:300]
            raise AdapterError(f"generation failed: {reason}", retryable=False) from None

    async def aclose(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
