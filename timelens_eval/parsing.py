"""One parser for every model answer: ``parse_spans``.

With default options it returns exactly the spans TimeLens' ``extract_time`` returns,
in the same order, for any text. The rules, in order (the first rule that yields
anything wins; matching is case-insensitive):

1. clock times ``H:MM:SS`` / ``MM:SS`` (optionally with a decimal fraction of a
   second): all of them, in order, taken two by two (an odd last one is dropped);
2. ranges ``a - b``, then (only if there is none) ``a to b``: all matches;
3. any numbers, taken two by two.

The options in :class:`~timelens_eval.protocol.ParseOptions` add rules or
post-processing; each is named and recorded with every result.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import NamedTuple

from timelens_eval.protocol import ParseOptions
from timelens_eval.spans import Span

__all__ = ["ParseStatus", "ParsedAnswer", "parse_spans", "extract_spans"]

_DEFAULT_OPTIONS = ParseOptions()


class ParseStatus(str, Enum):
    """What the parser made of an answer. Only ``OK`` and ``OUT_OF_RANGE`` can score > 0."""

    OK = "ok"
    NO_SPAN = "no_span"
    REVERSED = "reversed"  # first span has start >= end: IoU 0
    OUT_OF_RANGE = "out_of_range"  # first span leaves [0, duration]: scored as is, counted


class ParsedAnswer(NamedTuple):
    """The spans found in an answer (first one scored) and the parse status."""

    spans: tuple[Span, ...]
    status: ParseStatus

    @property
    def top(self) -> Span | None:
        """The span that is scored, or None when nothing was parsed."""
        return self.spans[0] if self.spans else None


# Rule 1: clock times. Hours are only read as H:MM:SS; a trailing fraction belongs to seconds.
_CLOCK = re.compile(r"\b(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?)\b")
# Rule 2: explicit ranges, "a - b" first, "a to b" only when there is no dash range.
_NUM = r"(\d+\.?\d*)"
_DASH_RANGE = re.compile(_NUM + r"\s*-\s*" + _NUM)
_TO_RANGE = re.compile(_NUM + r"\s+to\s+" + _NUM)
# Rule 3: bare numbers.
_NUMBER = re.compile(r"\b(\d+\.\d+|\d+)\b")

# Option ``units``: a unit after a number.
_UNIT = r"(ms|milliseconds?|msecs?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
_UNIT_RANGE = re.compile(
    _NUM + r"\s*" + f"(?:{_UNIT})?" + r"\s*(?:-|to)\s*" + _NUM + r"\s*" + f"(?:{_UNIT})?"
)
_UNIT_SCALE = {"ms": 0.001, "mi": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

# Option ``labelled``: "start(ing) (time): 4.2s ... end(ing) (time): 9.9s".
_LABEL_VALUE = r"[^0-9]{0,40}?(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?|\d+(?:\.\d+)?)"
_LABELLED = re.compile(
    r"\b(?:start|starting|begin|beginning|from)\b" + _LABEL_VALUE + r"(?:\s*" + _UNIT + r")?"
    r".{0,80}?\b(?:end|ending|finish|finishing|until|to)\b"
    + _LABEL_VALUE
    + r"(?:\s*"
    + _UNIT
    + r")?",
    re.DOTALL,
)


def _clock_to_seconds(text: str) -> float:
    parts = text.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[0]) if len(parts) == 3 else 0
    return float(hours * 3600 + minutes * 60 + seconds)


def _pairs(values: list[float]) -> list[Span]:
    return [Span(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]


def _unit_scale(unit: str | None) -> float:
    if not unit:
        return 1.0
    if unit.startswith("ms") or unit.startswith("mil"):
        return 0.001
    return _UNIT_SCALE.get(unit[0], 1.0)


def _value(text: str) -> float:
    return _clock_to_seconds(text) if ":" in text else float(text)


def extract_spans(text: str, options: ParseOptions = _DEFAULT_OPTIONS) -> list[Span]:
    """All spans found in ``text``, in order, before any status or post-processing."""
    text = text.lower()
    if options.labelled:
        found = _LABELLED.search(text)
        if found:
            start_text, start_unit, end_text, end_unit = found.groups()
            end_scale = _unit_scale(end_unit)
            start_scale = _unit_scale(start_unit) if start_unit else end_scale
            return [Span(_value(start_text) * start_scale, _value(end_text) * end_scale)]

    clocks = _CLOCK.findall(text)
    clocks = clocks[: len(clocks) // 2 * 2]  # a lone clock time falls through to rule 2
    if clocks:
        return _pairs([_clock_to_seconds(c) for c in clocks])

    if options.units:
        found_units = _UNIT_RANGE.findall(text)
        if found_units:
            spans = []
            for start, start_unit, end, end_unit in found_units:
                end_scale = _unit_scale(end_unit)
                start_scale = _unit_scale(start_unit) if start_unit else end_scale
                spans.append(Span(float(start) * start_scale, float(end) * end_scale))
            return spans

    for pattern in (_DASH_RANGE, _TO_RANGE):
        ranges = pattern.findall(text)
        if ranges:
            return [Span(float(a), float(b)) for a, b in ranges]

    return _pairs([float(n) for n in _NUMBER.findall(text)])


def _clip(x: float, duration: float) -> float:
    return min(max(x, 0.0), duration)


def round_seconds(x: float) -> float:
    """``x`` rounded to whole seconds, ties to even: Python's ``round``, as the TimeLens
    evaluation rounds predicted times (``12.5 -> 12``, ``13.5 -> 14``)."""
    return float(round(x))


def parse_spans(
    text: str | None,
    *,
    duration: float | None = None,
    options: ParseOptions = _DEFAULT_OPTIONS,
    out_of_range_tolerance: float = 0.0,
) -> ParsedAnswer:
    """Parse a model answer into spans plus a :class:`ParseStatus`.

    ``duration`` (seconds) enables the out-of-range check of the first span. ``None``
    text (a failed request) parses as ``NO_SPAN``.
    """
    if not text:
        return ParsedAnswer((), ParseStatus.NO_SPAN)
    spans = extract_spans(text, options)
    if not spans:
        return ParsedAnswer((), ParseStatus.NO_SPAN)

    if options.round_to_seconds:
        spans = [Span(round_seconds(s.start), round_seconds(s.end)) for s in spans]
    if options.swap_reversed:
        spans = [Span(s.end, s.start) if s.start > s.end else s for s in spans]
    if options.clip_to_duration and duration is not None:
        spans = [Span(_clip(s.start, duration), _clip(s.end, duration)) for s in spans]

    top = spans[0]
    if not top.start < top.end:
        status = ParseStatus.REVERSED
    elif duration is not None and (top.start < 0 or top.end > duration + out_of_range_tolerance):
        status = ParseStatus.OUT_OF_RANGE
    else:
        status = ParseStatus.OK
    return ParsedAnswer(tuple(spans), status)
