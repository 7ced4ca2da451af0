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
import sys
from collections.abc import Iterator, Sequence
from enum import Enum
from itertools import islice
from typing import NamedTuple

import numpy as np

from timelens_eval.protocol import ParseOptions
from timelens_eval.spans import Span

__all__ = [
    "ParseStatus",
    "ParsedAnswer",
    "parse_spans",
    "extract_spans",
    "iter_spans",
    "first_span",
    "apply_span_options",
    "span_status",
    "status_masks",
]

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
# Rule 2: explicit ranges, "a - b" first, "a to b" only when there is no dash range. Where
# the engine has them (3.11+), possessive quantifiers find the same matches without the
# quadratic backtracking a long digit run would cost: each quantifier here is forced to
# its longest run for the rest of the pattern to match, so giving back never helps.
_POSSESSIVE = sys.version_info >= (3, 11)
_P = "+" if _POSSESSIVE else ""
_NUM = r"(\d+\.?\d*)"
_RANGE_NUM = rf"(\d+{_P}\.?{_P}\d*{_P})"
_DASH_RANGE = re.compile(_RANGE_NUM + rf"\s*{_P}-\s*{_P}" + _RANGE_NUM)
_TO_RANGE = re.compile(_RANGE_NUM + rf"\s+{_P}to\s+{_P}" + _RANGE_NUM)
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


def _unit_scale(unit: str | None) -> float:
    if not unit:
        return 1.0
    if unit.startswith("ms") or unit.startswith("mil"):
        return 0.001
    return _UNIT_SCALE[unit[0]]  # every unit _UNIT admits starts with a letter of the table


def _value(text: str) -> float:
    return _clock_to_seconds(text) if ":" in text else float(text)


def _pairs_of(values: Iterator[float]) -> Iterator[Span]:
    """Consecutive values two by two; an odd last one is dropped."""
    for start in values:
        end = next(values, None)
        if end is None:
            return
        yield Span(start, end)


def _default_spans(text: str) -> Iterator[Span]:
    """The three default rules on lower-cased ``text``, one span at a time.

    Lazy, so the first span of a huge answer costs only the scan that finds it. Each
    rule's ``in`` test is a necessary condition of its pattern, checked first because it
    is far cheaper than the regular expression.
    """
    if ":" in text:
        clocks = (_clock_to_seconds(m.group(1)) for m in _CLOCK.finditer(text))
        first, second = next(clocks, None), next(clocks, None)
        if second is not None:  # a lone clock time falls through to rule 2
            yield Span(first, second)  # type: ignore[arg-type]
            yield from _pairs_of(clocks)
            return
    for needle, pattern in (("-", _DASH_RANGE), ("to", _TO_RANGE)):
        if needle in text:
            ranges = pattern.finditer(text)
            found = next(ranges, None)
            if found is not None:
                yield Span(float(found.group(1)), float(found.group(2)))
                for found in ranges:
                    yield Span(float(found.group(1)), float(found.group(2)))
                return
    yield from _pairs_of(float(m.group(1)) for m in _NUMBER.finditer(text))


def _option_spans(text: str, options: ParseOptions) -> list[Span] | None:
    """Spans from the ``labelled`` and ``units`` rules, or None when they find none."""
    if options.labelled:
        found = _LABELLED.search(text)
        if found:
            start_text, start_unit, end_text, end_unit = found.groups()
            end_scale = _unit_scale(end_unit)
            start_scale = _unit_scale(start_unit) if start_unit else end_scale
            return [Span(_value(start_text) * start_scale, _value(end_text) * end_scale)]
    if options.units:
        clocks = _CLOCK.findall(text) if ":" in text else []
        if len(clocks) < 2:  # clock times (rule 1) come before units
            spans = []
            for start, start_unit, end, end_unit in _UNIT_RANGE.findall(text):
                end_scale = _unit_scale(end_unit)
                start_scale = _unit_scale(start_unit) if start_unit else end_scale
                spans.append(Span(float(start) * start_scale, float(end) * end_scale))
            if spans:
                return spans
    return None


def iter_spans(text: str, options: ParseOptions = _DEFAULT_OPTIONS) -> Iterator[Span]:
    """The spans found in ``text``, in order, one at a time (before any post-processing)."""
    text = text.lower()
    if options.labelled or options.units:
        found = _option_spans(text, options)
        if found is not None:
            return iter(found)
    return _default_spans(text)


def extract_spans(
    text: str, options: ParseOptions = _DEFAULT_OPTIONS, max_spans: int | None = None
) -> list[Span]:
    """All spans found in ``text`` (the first ``max_spans`` of them), before post-processing."""
    return list(islice(iter_spans(text, options), max_spans))


def first_span(text: str | None) -> Span | None:
    """The span the default rules score for ``text`` (the first one), or None."""
    return next(_default_spans(text.lower()), None) if text else None


def _clip(x: float, duration: float) -> float:
    return min(max(x, 0.0), duration)


def round_seconds(x: float) -> float:
    """``x`` rounded to whole seconds, ties to even: Python's ``round``, as the TimeLens
    evaluation rounds predicted times (``12.5 -> 12``, ``13.5 -> 14``)."""
    return float(round(x))


def apply_span_options(
    spans: Sequence[Span], duration: float | None, options: ParseOptions
) -> list[Span]:
    """The post-processing options, in their order: round to seconds, swap reversed
    spans, clip to ``[0, duration]`` (only with a known duration).

    The one place these options act: answers parsed here and spans parsed elsewhere
    (TimeLens ``timestamps``, moment_detr windows) go through it alike.
    """
    out = list(spans)
    if options.round_to_seconds:
        out = [Span(round_seconds(s.start), round_seconds(s.end)) for s in out]
    if options.swap_reversed:
        out = [Span(s.end, s.start) if s.start > s.end else s for s in out]
    if options.clip_to_duration and duration is not None:
        out = [Span(_clip(s.start, duration), _clip(s.end, duration)) for s in out]
    return out


def span_status(top: Span, duration: float | None, tolerance: float = 0.0) -> ParseStatus:
    """The status of the scored span: ``REVERSED`` unless start < end, ``OUT_OF_RANGE``
    when it leaves ``[0, duration + tolerance]`` (a span ending exactly at the duration is
    in range), else ``OK``. :func:`status_masks` is the same rule over arrays."""
    if not top.start < top.end:
        return ParseStatus.REVERSED
    if duration is not None and (top.start < 0 or top.end > duration + tolerance):
        return ParseStatus.OUT_OF_RANGE
    return ParseStatus.OK


def status_masks(
    start: np.ndarray, end: np.ndarray, duration: np.ndarray, tolerance: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`span_status` over arrays of scored spans: the masks ``(no_span, reversed,
    out_of_range)``. A NaN start means no span; a NaN duration, an unknown one. The rows in
    no mask are ``OK``."""
    no_span = np.isnan(start)
    with np.errstate(invalid="ignore"):
        reversed_ = ~no_span & ~(start < end)
        outside = ~no_span & ~reversed_ & ~np.isnan(duration)
        outside &= (start < 0) | (end > duration + tolerance)
    return no_span, reversed_, outside


def parse_spans(
    text: str | None,
    *,
    duration: float | None = None,
    options: ParseOptions = _DEFAULT_OPTIONS,
    out_of_range_tolerance: float = 0.0,
    max_spans: int | None = None,
) -> ParsedAnswer:
    """Parse a model answer into spans plus a :class:`ParseStatus`.

    ``duration`` (seconds) enables the out-of-range check of the first span. ``None``
    text (a failed request) parses as ``NO_SPAN``. ``max_spans`` keeps only the first
    spans (the scored one is the first): a huge answer then costs only what it takes to
    find them.
    """
    if not text:
        return ParsedAnswer((), ParseStatus.NO_SPAN)
    spans = extract_spans(text, options, max_spans)
    if not spans:
        return ParsedAnswer((), ParseStatus.NO_SPAN)
    spans = apply_span_options(spans, duration, options)
    return ParsedAnswer(tuple(spans), span_status(spans[0], duration, out_of_range_tolerance))
