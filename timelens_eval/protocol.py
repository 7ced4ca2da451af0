"""The scoring protocol: every rule that turns an answer into a score, as one logged object.

The default, :data:`TIMELENS_PROTOCOL`, reproduces the TimeLens evaluation script.
Every departure from it is a named option that is recorded with the result.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PROTOCOLS",
    "ParseOptions",
    "Protocol",
    "TIMELENS_LIVE_PROTOCOL",
    "TIMELENS_PROTOCOL",
    "named_protocol",
]

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)


class ParseOptions(BaseModel):
    """Options of :func:`timelens_eval.parsing.parse_spans`. All off = TimeLens ``extract_time``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labelled: bool = Field(
        False,
        description="Read labelled answers first: 'Start: 4.2s, End: 9.9s', "
        "'starting time ... 4.2 ... ending time ... 9.9'.",
    )
    units: bool = Field(
        False,
        description="Honour a unit after a number (ms, s, min, h) and convert it to seconds.",
    )
    swap_reversed: bool = Field(
        False,
        description="Swap a reversed span (start > end) instead of scoring it 0.",
    )
    round_to_seconds: bool = Field(
        False,
        description="Round predicted times to whole seconds, ties to even (Python's round), "
        "as TimeLens' evaluation does before it writes a prediction.",
    )
    clip_to_duration: bool = Field(
        False, description="Clip predicted spans to [0, duration] before scoring."
    )


class Protocol(BaseModel):
    """How answers are parsed and scored. Recorded verbatim in every result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("timelens", description="A label for this protocol.")
    thresholds: tuple[float, ...] = Field(
        DEFAULT_THRESHOLDS, description="IoU thresholds t of R1@t; a hit is IoU >= t."
    )
    parse: ParseOptions = Field(
        default_factory=ParseOptions, description="Options of the answer parser."
    )
    span_selection: Literal["first"] = Field(
        "first", description="Which parsed span is scored (TimeLens: the first)."
    )
    unparsed: Literal["zero", "exclude"] = Field(
        "zero",
        description="'zero': an answer with no span has IoU 0 and stays in the denominator; "
        "'exclude': it is dropped from the denominator (reported, never the default).",
    )
    multi_window: Literal["best"] = Field(
        "best",
        description="With several GT windows, score against the one the prediction overlaps "
        "best (moment_detr R1).",
    )
    out_of_range_tolerance: float = Field(
        0.0, description="Seconds past the duration before a span counts as out of range."
    )

    @property
    def is_default(self) -> bool:
        return self == TIMELENS_PROTOCOL


TIMELENS_PROTOCOL = Protocol()


TIMELENS_LIVE_PROTOCOL = Protocol(name="timelens-live", parse=ParseOptions(round_to_seconds=True))
"""The TimeLens evaluation of a live model: every predicted start and end is rounded to
whole seconds with Python's ``round`` (ties to even) before it is scored, as
``evaluation/eval_dataloader.py`` does before it writes the prediction file that
``compute_metrics.py`` scores. ``run`` uses it by default on TimeLens-Bench."""

PROTOCOLS: dict[str, Protocol] = {
    TIMELENS_PROTOCOL.name: TIMELENS_PROTOCOL,
    TIMELENS_LIVE_PROTOCOL.name: TIMELENS_LIVE_PROTOCOL,
}
"""The named protocols: ``timelens`` (``compute_metrics.py`` on a prediction file, times as
written) and ``timelens-live`` (the same after the evaluation's rounding)."""


def named_protocol(name: str) -> Protocol:
    """The protocol called ``name``; an unknown name raises ``UnknownNameError``."""
    if name not in PROTOCOLS:
        from timelens_eval.errors import UnknownNameError

        raise UnknownNameError("protocol", name, PROTOCOLS)
    return PROTOCOLS[name]
