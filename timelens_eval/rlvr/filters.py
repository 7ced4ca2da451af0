"""The training-data filters of TimeLens' released code, applied before anything else.

TimeLens trains on TimeLens-100K after dropping four kinds of samples; the same four
filters run here before difficulty estimation, sampling and SFT, and every drop is
counted under its reason:

* ``audio``: the query is about sound. A word of the query (lower-cased, split on
  whitespace, a trailing ``?`` stripped from the whole query) is one of
  :data:`AUDIO_KEYWORDS`. The model sees no audio, so these queries cannot be answered;
  and because their IoU before RL is near 0, the difficulty sampler (which favours IoU
  near 0.05) would pick them over answerable ones.
* ``too_short`` / ``too_long``: the video lasts under ``min_duration`` or over
  ``max_duration`` seconds (5 and 500 in TimeLens; both bounds are kept).
* ``too_many_words``: the query has more than ``max_words`` words, counted as TimeLens
  counts them (pieces between single spaces; 200 in TimeLens).
* ``span_outside``: no ground-truth window lies inside the video
  (``0 <= start <= end <= duration``).

A sample dropped for several reasons counts under the first in this order (TimeLens
checks them in this order too). Sources: ``training/data/grounding.py`` and
``scripts/filter_data/*`` of TencentARC/TimeLens, branch ``train``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AUDIO_KEYWORDS",
    "FILTER_REASONS",
    "DataFilters",
    "FilterReport",
    "is_audio_query",
    "drop_reason",
    "filter_samples",
]

AUDIO_KEYWORDS: tuple[str, ...] = (
    "hear",
    "heard",
    "hears",
    "hearing",
    "sound",
    "sounded",
    "sounds",
    "sounding",
    "audio",
)
"""Words that make a query about sound (TimeLens' list)."""

FILTER_REASONS: tuple[str, ...] = (
    "audio",
    "too_many_words",
    "too_short",
    "too_long",
    "span_outside",
)


class DataFilters(BaseModel):
    """Which samples are dropped before difficulty estimation, sampling and SFT.

    Defaults: TimeLens' released scripts. ``None`` (or an empty keyword list) turns a
    filter off; ``enabled: false`` turns them all off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    audio_keywords: tuple[str, ...] = Field(
        AUDIO_KEYWORDS, description="Queries holding one of these words are dropped."
    )
    min_duration: float | None = Field(5.0, ge=0, description="Seconds; shorter videos go.")
    max_duration: float | None = Field(500.0, gt=0, description="Seconds; longer videos go.")
    max_words: int | None = Field(200, ge=1, description="Longer queries go.")
    require_span_inside: bool = Field(
        True, description="Drop samples none of whose GT windows lies inside the video."
    )


def is_audio_query(query: str, keywords: Iterable[str] = AUDIO_KEYWORDS) -> bool:
    """True when a word of ``query`` is an audio keyword (TimeLens' test)."""
    words = query.strip("?").lower().split()
    wanted = set(keywords)
    return any(word in wanted for word in words)


def drop_reason(
    query: str,
    duration: float,
    spans: Sequence[Sequence[float]],
    filters: DataFilters,
) -> str | None:
    """Why a sample is dropped (one of :data:`FILTER_REASONS`), or None to keep it."""
    if not filters.enabled:
        return None
    if filters.audio_keywords and is_audio_query(query, filters.audio_keywords):
        return "audio"
    if filters.max_words is not None and len(query.split(" ")) > filters.max_words:
        return "too_many_words"
    if filters.min_duration is not None and duration < filters.min_duration:
        return "too_short"
    if filters.max_duration is not None and duration > filters.max_duration:
        return "too_long"
    if filters.require_span_inside and duration > 0:
        if not any(0 <= float(s) <= float(e) <= duration for s, e in spans):
            return "span_outside"
    return None


@dataclass
class FilterReport:
    """How many samples each filter dropped, with a few example ids per reason."""

    total: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILTER_REASONS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "filters": self.filters,
        }

    def summary(self) -> str:
        """One line: ``kept K of N (audio 3, too_long 1, ...)``."""
        parts = [f"{reason} {n}" for reason, n in self.dropped.items() if n]
        return f"kept {self.kept} of {self.total}" + (f" ({', '.join(parts)})" if parts else "")

    def fingerprint(self) -> str:
        """The filter settings as canonical JSON (part of a filtered benchmark's hash)."""
        return json.dumps(self.filters, sort_keys=True, separators=(",", ":"))


def filter_samples(samples: Sequence[Any], filters: DataFilters) -> tuple[list[Any], FilterReport]:
    """The samples ``filters`` keep (in order) and the report of what went and why.

    ``samples`` are :class:`~timelens_eval.benchmarks.base.Sample` objects (``query``,
    ``duration``, ``gt`` windows with ``start`` and ``end``).
    """
    report = FilterReport(total=len(samples), filters=filters.model_dump(mode="json"))
    kept = []
    for sample in samples:
        spans = [(w.start, w.end) for w in sample.gt]
        reason = drop_reason(sample.query, float(sample.duration), spans, filters)
        if reason is None:
            kept.append(sample)
            continue
        report.dropped[reason] += 1
        examples = report.examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(sample.sample_id)
    report.kept = len(kept)
    return kept, report
