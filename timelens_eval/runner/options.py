"""How a run runs: :class:`RunOptions`, and which samples a shard or a limit selects."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.adapters import GenerationConfig
from timelens_eval.benchmarks.base import Sample
from timelens_eval.errors import ConfigError
from timelens_eval.protocol import TIMELENS_PROTOCOL, Protocol
from timelens_eval.video.types import FrameSpec

__all__ = ["RunOptions", "Shard", "parse_shard", "select_samples"]


class RunOptions(BaseModel):
    """How to run (not what is evaluated: that is the adapter and the benchmark)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    concurrency: int = Field(8, ge=1, description="Requests in flight at once.")
    limit: int | None = Field(None, ge=1, description="Only the first N samples.")
    shard: str | None = Field(None, description="'i/N': the i-th of N shards (0-based).")
    output: Path | None = Field(
        None,
        description="A path ending in .json: the header; any other path: the folder of "
        "the header (see output_path). Default: under runs_dir.",
    )
    runs_dir: Path = Path("runs")
    fresh: bool = Field(False, description="Discard earlier output instead of resuming.")
    retry_errors: bool = Field(False, description="On resume, run failed samples again.")
    max_attempts: int = Field(4, ge=1, description="Tries per sample before recording an error.")
    backoff_base: float = Field(1.0, ge=0, description="First retry delay (s); doubles.")
    backoff_max: float = Field(60.0, ge=0, description="Cap of the retry delay (s).")
    max_retry_after: float = Field(120.0, ge=0, description="Cap on a server-asked wait (s).")
    request_timeout: float | None = Field(None, gt=0, description="Seconds per request try.")
    max_answer_chars: int = Field(65536, ge=1, description="Longer answers are cut, flagged.")
    parse_timeout: float = Field(10.0, gt=0, description="Cap on parsing one answer (s).")
    quarantine_corrupt: bool = Field(False, description="Set corrupt stream lines aside.")
    frames: FrameSpec | None = Field(None, description="Override the adapter's preset.")
    template: str | None = None
    encoding: str | None = None
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    protocol: Protocol = TIMELENS_PROTOCOL
    decode_workers: int | None = Field(None, ge=1)
    prefetch: int | None = Field(None, ge=1, description="Samples decoded ahead at most.")
    bootstrap: int = Field(1000, ge=0)
    seed: int = 0
    progress: bool | Literal["off", "bar", "lines"] = Field(
        False, description="True or 'bar': a progress bar; 'lines': a line every 30 s."
    )
    allow_missing: bool = Field(
        False,
        description="Run although videos are missing; those samples are recorded as errors "
        "that no metric counts (see timelens_eval.runner.preflight).",
    )


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | None) -> Shard | None:
    """``"i/N"`` (0 <= i < N) to a :class:`Shard`."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or int(match[2]) < 1 or int(match[1]) >= int(match[2]):
        raise ConfigError(f"--shard {text!r}: expected i/N with 0 <= i < N, e.g. 0/4")
    return Shard(int(match[1]), int(match[2]))


def select_samples(
    samples: Sequence[Sample], limit: int | None, shard: Shard | None
) -> list[tuple[int, Sample]]:
    """``(position, sample)`` pairs of this run: the first ``limit``, then every
    N-th from ``i`` for shard ``i/N``. Positions index the benchmark's order."""
    chosen = list(enumerate(samples))[: limit if limit is not None else None]
    if shard is not None:
        chosen = chosen[shard.index :: shard.count]
    return chosen
