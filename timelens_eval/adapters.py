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

from pydantic import BaseModel, ConfigDict, Field

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
]

ModelType = Literal["open", "proprietary", "baseline"]


class GenerationConfig(BaseModel):
    """Decoding settings. Greedy by default, as in the TimeLens protocol."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(128, ge=1)
    seed: int | None = 0


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
    secret_args: ClassVar[frozenset[str]] = frozenset({"api_key"})
    """Argument names never written to results, logs or errors."""

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

    @abc.abstractmethod
    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Answer one request."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release clients, engines and files."""


ADAPTERS: Registry[type[Adapter]] = Registry("adapter")


def redact(args: Mapping[str, Any], secret_args: frozenset[str]) -> dict[str, Any]:
    return {k: ("***" if k in secret_args else v) for k, v in args.items()}
