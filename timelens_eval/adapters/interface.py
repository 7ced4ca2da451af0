"""The grounding interface every model adapter implements.

An adapter receives one :class:`GroundingRequest` (never the dataset) and returns one
:class:`GroundingOutput` with the raw answer text. Parsing and scoring happen outside.
Low in the house: this module imports the prompt, span and frame types, and nothing of
the registry, the runner or any model stack.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.messages import PromptMessage
from timelens_eval.spans import Span
from timelens_eval.video.types import FrameSpec

__all__ = [
    "GenerationConfig",
    "GroundingRequest",
    "GroundingOutput",
    "Usage",
    "Adapter",
    "AdapterError",
    "ModelType",
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

    Subclasses set ``name`` and implement :meth:`ground`. The adapter's arguments
    (``--adapter-args``) are the fields of its :attr:`config_model`; ``build_adapter``
    checks them against it and passes them to the constructor as keywords, which must
    raise ``ConfigError`` for anything else wrong, so a run fails before it starts.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel] | None] = None
    """The adapter's arguments as a pydantic model (``extra="forbid"``). None: the
    keyword parameters of the constructor are the arguments (the older way, kept for
    adapters of other packages; see :mod:`timelens_eval.adapters.arguments`)."""
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
