"""The ``lmms`` adapter: any lmms-eval model class behind our grounding interface.

``--adapter lmms --adapter-args model=NAME,model_args="k=v,..."`` resolves ``NAME``
through lmms-eval's own model registry (``lmms_eval.models.get_model``: built-in models,
entry-point plugins and anything registered in ``MODEL_REGISTRY_V2``) and builds it with
the class's ``create_from_arg_string(model_args)``, as lmms-eval's evaluator does.

Each request becomes one lmms-eval ``Instance`` of type ``generate_until``:

* simple models (``is_simple = True``, most of the zoo): ``arguments = (context,
  gen_kwargs, doc_to_visual, doc_id, task, split)``. The context is the prompt text
  (frames' places left out: lmms-eval models put visuals where their own prompt format
  wants them); ``doc_to_visual(doc)`` gives ``[video_path]`` with ``visual=video``
  (default: the model samples the file itself, with its own settings) or the sampled
  frames as PIL images with ``visual=frames``;
* chat models (``is_simple = False``): ``arguments = (context, doc_to_messages,
  gen_kwargs, doc_id, task, split)``, where ``doc_to_messages(doc)`` is one user turn in
  lmms-eval's chat format -- ``{"type": "video", "url": path}`` or one
  ``{"type": "image", "url": PIL image}`` per frame, with our text parts (e.g. textual
  timestamps) in order.

The document the callbacks receive is put where lmms-eval models look it up,
``model.task_dict[task][split][doc_id]``, and removed after the call. ``gen_kwargs``
carries ``max_new_tokens``, ``temperature``, ``top_p``, ``do_sample`` (False at
temperature 0: greedy) and an empty ``until``. The answer is the first element of
``generate_until``'s list (a ``GenerationResult``'s text, with its token counts when the
model reports them).

lmms-eval's full dependency set is very large (and pins ``torchvision``, ``wandb`` and
dozens more). The bridge needs only its registry, ``Instance`` and the ``lmms`` base
class, which import ``torch``, ``transformers``, ``loguru``, ``pytz``, ``pyyaml`` and
``jinja2``: ``pip install --no-deps lmms-eval`` plus those is enough for models whose own
imports are met (see docs/adapters.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import threading
import time
import warnings
from typing import Any, Literal

import numpy as np
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
from timelens_eval.errors import ConfigError, MissingDependencyError, did_you_mean
from timelens_eval.messages import ImagePart, PromptMessage

__all__ = ["LmmsAdapter", "LmmsConfig", "gen_kwargs", "make_instance"]

_REQUIRED = ("lmms_eval", "loguru", "torch", "transformers")


class LmmsConfig(BaseModel):
    """The ``--adapter-args`` of the ``lmms`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="lmms-eval model name (registry id or alias).")
    model_args: str | dict[str, Any] = Field("", description="lmms-eval model arguments.")
    visual: Literal["video", "frames"] = "video"
    task: str = Field("timelens_grounding", description="Task name in the Instance metadata.")
    split: str = "test"
    force_simple: bool = False


def gen_kwargs(generation: GenerationConfig) -> dict[str, Any]:
    """lmms-eval generation kwargs: greedy at temperature 0."""
    return {
        "max_new_tokens": generation.max_new_tokens,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "do_sample": generation.temperature > 0,
        "num_beams": 1,
        "until": [],
    }


def _arg_string(value: str | dict[str, Any]) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text


def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image))


def _context(message: PromptMessage | None, query: str) -> str:
    if message is None:
        from timelens_eval.prompts import get_template

        return get_template("timelens").render(query)
    return "".join(p.text for p in message.parts if not isinstance(p, ImagePart))


def make_instance(
    request: GroundingRequest,
    *,
    doc_id: int,
    chat: bool,
    visual: str,
    task: str,
    split: str,
) -> tuple[Any, dict[str, Any]]:
    """The lmms-eval ``Instance`` for ``request`` and the document its callbacks read."""
    from lmms_eval.api.instance import Instance

    message = request.message
    doc: dict[str, Any] = {
        "sample_id": request.sample_id,
        "query": request.query,
        "duration": request.duration,
        "video": str(request.video_path) if request.video_path is not None else None,
        "message": message,
    }

    def doc_to_visual(d: dict[str, Any]) -> list[Any]:
        if visual == "video":
            if d["video"] is None:
                raise ValueError("visual=video needs the video file")
            return [d["video"]]
        return [_pil(p.image) for p in (d["message"].images if d["message"] else [])]

    def doc_to_messages(d: dict[str, Any]) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        m: PromptMessage | None = d["message"]
        if visual == "video" or m is None:
            if d["video"] is None:
                raise ValueError("visual=video needs the video file")
            content.append({"type": "video", "url": d["video"]})
            content.append({"type": "text", "text": _context(m, d["query"])})
        else:
            for part in m.parts:
                if isinstance(part, ImagePart):
                    content.append({"type": "image", "url": _pil(part.image)})
                elif part.text:
                    content.append({"type": "text", "text": part.text})
        return [{"role": "user", "content": content}]

    ctx = _context(message, request.query)
    kwargs = gen_kwargs(request.generation)
    if chat:
        arguments: tuple[Any, ...] = (ctx, doc_to_messages, kwargs, doc_id, task, split)
    else:
        arguments = (ctx, kwargs, doc_to_visual, doc_id, task, split)
    instance = Instance(
        request_type="generate_until",
        arguments=arguments,
        idx=0,
        metadata={"task": task, "doc_id": doc_id, "repeats": 1},
    )
    return instance, doc


class LmmsAdapter(Adapter):
    """An lmms-eval model, driven through lmms-eval's registry and request types."""

    name = "lmms"
    config_model = LmmsConfig
    model_type = "open"
    requires = ("lmms_eval",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = validate_config(LmmsConfig, kwargs, "lmms")
        for module in _REQUIRED:
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError("the lmms adapter", "lmms", module.replace("_", "-"))
        self.needs_frames = self.config.visual == "frames"  # type: ignore[misc]
        try:
            # lmms-eval's utils module silences all warnings process-wide on import;
            # keep that to the import.
            with warnings.catch_warnings():
                from lmms_eval.models import MODEL_REGISTRY_V2, get_model

                known = MODEL_REGISTRY_V2.list_model_names()
                if self.config.model not in known:
                    hint = did_you_mean(self.config.model, known)
                    raise ConfigError(
                        f"lmms adapter: unknown lmms-eval model {self.config.model!r}"
                        + (
                            f"; did you mean {hint}?"
                            if hint
                            else f" ({len(known)} known; "
                            "see lmms_eval.models.list_available_models())"
                        )
                    )
                cls = get_model(self.config.model, force_simple=self.config.force_simple)
        except ImportError as exc:
            raise ConfigError(
                f"lmms adapter: model {self.config.model!r} could not be imported "
                f"(its own dependencies are missing): {exc}"
            ) from None
        except (ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(f"lmms adapter: {reason[:400]}") from None
        self.chat = not getattr(cls, "is_simple", True)
        self.lmm = cls.create_from_arg_string(_arg_string(self.config.model_args))
        if not isinstance(getattr(self.lmm, "task_dict", None), dict):
            self.lmm.task_dict = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LmmsAdapter(model={self.config.model!r})"

    def _call(self, request: GroundingRequest) -> tuple[str, Any, float]:
        from lmms_eval.api.instance import unwrap_generation_output

        config = self.config
        doc_id = next(self._ids)
        instance, doc = make_instance(
            request,
            doc_id=doc_id,
            chat=self.chat,
            visual=config.visual,
            task=config.task,
            split=config.split,
        )
        docs = self.lmm.task_dict.setdefault(config.task, {}).setdefault(config.split, {})
        with self._lock:
            docs[doc_id] = doc
            start = time.perf_counter()
            try:
                outputs = self.lmm.generate_until([instance])
            finally:
                docs.pop(doc_id, None)
            latency = time.perf_counter() - start
        if not outputs:
            raise AdapterError("lmms model returned no answer", retryable=False)
        text, counts = unwrap_generation_output(outputs[0])
        return str(text), counts, latency

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Run one ``generate_until`` Instance in a worker thread."""
        if self.config.visual == "frames" and request.message is None:
            raise AdapterError("lmms visual=frames needs a prompt message", retryable=False)
        try:
            text, counts, latency = await asyncio.to_thread(self._call, request)
        except AdapterError:
            raise
        except Exception as exc:  # a model's own failure is this sample's error
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise AdapterError(f"lmms model failed: {reason}", retryable=False) from None
        usage = None
        if counts is not None and (counts.input_tokens or counts.output_tokens):
            usage = Usage(
                input_tokens=int(counts.input_tokens or 0),
                output_tokens=int(counts.output_tokens or 0),
            )
        return GroundingOutput(
            text=text,
            usage=usage,
            latency_s=latency,
            raw={"model": self.config.model, "chat": self.chat},
        )
