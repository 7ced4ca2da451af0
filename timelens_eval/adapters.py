"""The grounding interface every model adapter implements, and the adapter registry.

An adapter receives one :class:`GroundingRequest` (never the dataset) and returns one
:class:`GroundingOutput` with the raw answer text. Parsing and scoring happen outside.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.messages import PromptMessage
from timelens_eval.registry import Registry
from timelens_eval.spans import Span
from timelens_eval.video.types import FrameSpec

__all__ = [
    "GenerationConfig",
    "GroundingRequest",
    "GroundingOutput",
    "Usage",
    "Adapter",
    "AdapterError",
    "ADAPTERS",
    "ModelType",
    "ENTRY_POINT_GROUP",
    "BUILTIN_ADAPTERS",
    "discover_adapters",
    "adapter_source",
    "get_adapter_class",
    "split_adapter_args",
    "coerce_adapter_args",
    "build_adapter",
    "redact",
]

ModelType = Literal["open", "proprietary", "baseline"]


class GenerationConfig(BaseModel):
    """Decoding settings. Greedy by default, as in the TimeLens protocol."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0, description="0 decodes greedily (TimeLens).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling (temperature > 0).")
    max_new_tokens: int = Field(
        512, ge=1, description="Most tokens an answer may have (the TimeLens evaluation: 512)."
    )
    seed: int | None = Field(0, description="Seed of sampled decoding.")


@dataclass(frozen=True)
class GroundingRequest:
    """Everything a model needs to answer one query."""

    sample_id: str
    query: str
    duration: float
    video_path: Path | None
    message: PromptMessage | None
    """The built prompt with frames; None for adapters that take no frames (baselines)."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    clip: Span | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class GroundingOutput:
    """The model's raw answer and what it cost."""

    text: str
    usage: Usage | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    raw: Any = None
    """Optional raw provider response, for debugging; never written to results."""


class AdapterError(Exception):
    """A failed call. ``retryable`` tells the runner whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Adapter(abc.ABC):
    """Base class of model adapters.

    Subclasses set ``name`` and implement :meth:`ground`. Constructor keyword arguments
    are the adapter's ``--adapter-args``; invalid ones must raise ``ConfigError`` there,
    so a run fails before it starts.
    """

    name: ClassVar[str]
    model_type: ClassVar[ModelType] = "open"
    needs_frames: ClassVar[bool] = True
    """False for adapters that ignore the video (baselines): the runner decodes nothing."""
    reads_video: ClassVar[bool | None] = None
    """Whether answers depend on the video (its frames or its file): then ``run`` checks
    every video exists before the first request. None: true unless the adapter is a
    baseline (``model_type``) that takes no frames."""
    secret_args: ClassVar[frozenset[str]] = frozenset({"api_key"})
    """Argument names never written to results, logs or errors."""
    max_in_flight: int | None = None
    """Requests this adapter wants in flight at once (a local engine that batches them
    itself); None: the run's ``concurrency`` (which paces API calls)."""

    # Presets: what the model family was evaluated with. The runner uses them unless
    # the user overrides them.
    default_frames: ClassVar[FrameSpec] = FrameSpec()
    default_template: ClassVar[str] = "timelens"
    default_encoding: ClassVar[str] = "none"

    def __init__(self, **kwargs: Any) -> None:
        self.args: dict[str, Any] = dict(kwargs)

    @property
    def model(self) -> str:
        """Display name of the model behind this adapter."""
        return str(self.args.get("model", self.name))

    def describe(self) -> dict[str, Any]:
        """Adapter arguments with secrets removed, for the result file."""
        return {k: v for k, v in self.args.items() if k not in self.secret_args}

    def secret_values(self) -> list[str]:
        """Every secret this adapter holds (its secret arguments, and credentials it read
        from the environment), so the runner can keep them out of everything it writes."""
        return [str(v) for k, v in self.args.items() if k in self.secret_args and v]

    @abc.abstractmethod
    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Answer one request."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release clients, engines and files."""


ADAPTERS: Registry[type[Adapter]] = Registry("adapter")


def redact(args: Mapping[str, Any], secret_args: frozenset[str]) -> dict[str, Any]:
    return {k: ("***" if k in secret_args else v) for k, v in args.items()}


# --------------------------------------------------------------------------------------
# Registry: built-in adapters (lazy), third-party entry points, argument parsing.
# --------------------------------------------------------------------------------------

ENTRY_POINT_GROUP = "timelens_eval.adapters"
"""Entry-point group through which other distributions add adapters."""

BUILTIN_ADAPTERS: dict[str, str] = {
    "mock": "timelens_eval_adapters.mock:MockAdapter",
    "uniform": "timelens_eval_adapters.baselines:UniformAdapter",
    "prior": "timelens_eval_adapters.baselines:PriorAdapter",
    "random": "timelens_eval_adapters.baselines:RandomAdapter",
    "openai": "timelens_eval_adapters.openai_chat:OpenAIAdapter",
    "gemini": "timelens_eval_adapters.gemini:GeminiAdapter",
    "transformers": "timelens_eval_adapters.transformers_hf:TransformersAdapter",
    "vllm": "timelens_eval_adapters.vllm_engine:VLLMAdapter",
    "lmms": "timelens_eval_adapters.lmms_bridge:LmmsAdapter",
}
"""Adapters shipped with the package, registered lazily by ``"module:Class"``."""

for _name, _target in BUILTIN_ADAPTERS.items():
    if _name not in ADAPTERS:
        ADAPTERS.register(_name, _target)

_ENTRY_POINT_SOURCES: dict[str, str] = {}


def discover_adapters() -> dict[str, str]:
    """Register adapters announced by installed distributions (entry-point group
    ``timelens_eval.adapters``) and return ``{name: distribution}`` of those found.

    Entries stay lazy (``"module:attr"``): nothing is imported until an adapter is
    used. A name that is already registered (a built-in, or an earlier entry point)
    keeps its first registration.
    """
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown"
        found[ep.name] = dist
        if ep.name not in ADAPTERS:
            ADAPTERS.register(ep.name, ep.value)
            _ENTRY_POINT_SOURCES[ep.name] = dist
    return found


def adapter_source(name: str) -> str:
    """Where adapter ``name`` comes from: ``"built-in"``, a distribution, or ``"code"``."""
    if name in _ENTRY_POINT_SOURCES:
        return _ENTRY_POINT_SOURCES[name]
    if name in BUILTIN_ADAPTERS and ADAPTERS.target(name) == BUILTIN_ADAPTERS[name]:
        return "built-in"
    return "code"


def get_adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered under ``name`` (imports its module).

    Unknown names raise :class:`~timelens_eval.errors.UnknownNameError` with
    suggestions; a module that cannot be imported raises ``ConfigError`` (or
    ``MissingDependencyError`` when the adapter module raised it).
    """
    from timelens_eval.errors import ConfigError, MissingDependencyError

    if name not in ADAPTERS:
        discover_adapters()
    try:
        cls = ADAPTERS.get(name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise ConfigError(
            f"adapter {name!r} ({ADAPTERS.target(name)}) could not be imported: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"adapter {name!r} is not an Adapter subclass: {cls!r}")
    return cls


def split_adapter_args(text: str | None) -> dict[str, str]:
    """Split ``"k=v,k2=v2"`` into raw strings.

    Commas inside brackets, braces or a quoted value do not split, so values may be
    JSON: ``answers={"a": "x, y"},latency=0.1``. Values are returned as written;
    a quoted value (``model="a, b"``, ``version='2024'``) is taken as a string.
    """
    if text is None or not text.strip():
        return {}
    from timelens_eval.errors import ConfigError

    items: list[str] = []
    depth, quote, current = 0, "", []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'" and (depth > 0 or "".join(current).rstrip().endswith("=")):
            quote = ch  # a quoted value, or a string inside a JSON value
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    out: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"adapter argument {item.strip()!r} must look like key=value")
        if key in out:
            raise ConfigError(f"adapter argument {key!r} given twice")
        out[key] = value.strip()
    return out


def _quoted(raw: str) -> str | None:
    """The text inside matching quotes (``"a, b"`` -> ``a, b``), or None."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return None


def _literal(raw: str) -> Any:
    """Best guess of a value's type for arguments without an annotation."""
    import json

    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _coerce(annotation: Any, raw: Any) -> Any:
    """Coerce a raw (string) argument to ``annotation`` with pydantic's lax rules."""
    import json

    from pydantic import TypeAdapter

    if not isinstance(raw, str):
        return TypeAdapter(annotation).validate_python(raw)
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    if raw.strip()[:1] in ("[", "{"):
        try:
            return adapter.validate_python(json.loads(raw))
        except (ValueError, ValidationError):
            pass
    if raw.lower() in ("none", "null"):
        try:
            return adapter.validate_python(None)
        except ValidationError:
            pass
    try:
        return adapter.validate_python(raw)
    except ValidationError as first:
        try:
            return adapter.validate_python(json.loads(raw))
        except (ValueError, ValidationError):
            raise first from None


def coerce_adapter_args(cls: type[Adapter], args: Mapping[str, Any]) -> dict[str, Any]:
    """Check argument names against ``cls.__init__`` and coerce values to its annotations.

    Unknown names raise ``ConfigError`` with suggestions (unless the constructor takes
    ``**kwargs``); values that do not fit the annotation raise ``ConfigError``. Secret
    values never appear in messages.
    """
    import inspect
    import typing

    from timelens_eval.errors import ConfigError, did_you_mean

    name = getattr(cls, "name", cls.__name__)
    signature = inspect.signature(cls.__init__)
    params = {
        k: p
        for k, p in signature.parameters.items()
        if k != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall back to literals
        hints = {}
    out: dict[str, Any] = {}
    for key, raw in args.items():
        shown = "***" if key in cls.secret_args else repr(raw)
        if key not in params and not open_kwargs:
            hint = did_you_mean(key, params)
            known = ", ".join(sorted(params)) or "none"
            raise ConfigError(
                f"adapter {name!r} has no argument {key!r}"
                + (f"; did you mean {hint}?" if hint else f" (arguments: {known})")
            )
        annotation = hints.get(key)
        text = _quoted(raw) if isinstance(raw, str) else None
        if annotation is None or annotation is Any:
            if text is not None:
                out[key] = text
            else:
                out[key] = _literal(raw) if isinstance(raw, str) else raw
            continue
        if text is not None:
            raw = text
        try:
            out[key] = _coerce(annotation, raw)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise ConfigError(f"adapter {name!r}: bad value {key}={shown}: {reason}") from None
    missing = [
        k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in out
    ]
    if missing:
        raise ConfigError(f"adapter {name!r} needs argument(s): {', '.join(missing)}")
    return out


def build_adapter(name: str, args: str | Mapping[str, Any] | None = None) -> Adapter:
    """Create adapter ``name`` from ``"k=v,..."`` (or a mapping), before any work starts.

    Every problem a run could discover late (unknown adapter, unknown or ill-typed
    arguments, missing optional dependency, missing credentials) raises a
    :class:`~timelens_eval.errors.TimelensError` here.
    """
    from timelens_eval.errors import ConfigError, TimelensError

    cls = get_adapter_class(name)
    raw = split_adapter_args(args) if isinstance(args, str) or args is None else dict(args)
    kwargs = coerce_adapter_args(cls, raw)
    try:
        adapter = cls(**kwargs)
    except TimelensError:
        raise
    except (TypeError, ValueError) as exc:
        secrets = [str(v) for k, v in kwargs.items() if k in cls.secret_args and v]
        message = str(exc)
        for secret in secrets:
            message = message.replace(secret, "***")
        raise ConfigError(f"adapter {name!r}: {message}") from None
    return adapter
