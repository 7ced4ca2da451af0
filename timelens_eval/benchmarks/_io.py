"""Shared reading and validation helpers of the benchmark loaders.

Every check raises :class:`~timelens_eval.errors.InputError` naming the file and,
where known, the line and the sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from timelens_eval.errors import InputError
from timelens_eval.spans import Span

__all__ = [
    "read_json",
    "iter_jsonl",
    "require",
    "finite",
    "number",
    "duration_value",
    "positive_field",
    "paired_items",
    "window",
    "windows",
    "normalize_text",
    "timelens_query",
    "require_path",
    "beyond",
]

_SPACES = re.compile(r"\s+")


def require_path(path: str | Path | None, what: str) -> Path:
    """``path`` as a :class:`Path` that exists, else an error saying what was expected."""
    if path is None:
        raise InputError(f"no {what} given; pass --annotations FILE")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found", path=path)
    return path


def read_json(path: Path) -> Any:
    """Parse a whole JSON file within the reader limits (:mod:`timelens_eval.json_limits`);
    ``NaN``/``Infinity`` literals, a key given twice in one object and bad JSON are errors."""
    from timelens_eval.json_limits import read_json_file

    return read_json_file(path)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` for each non-blank line; the last line may lack a newline.

    Each line is read within the reader limits (:mod:`timelens_eval.json_limits`).
    """
    from timelens_eval import json_limits

    yield from json_limits.iter_jsonl(path)


def require(
    record: Any,
    key: str,
    kind: type | tuple[type, ...],
    *,
    path: Path,
    line: int | None = None,
    sample: str | None = None,
) -> Any:
    """``record[key]`` checked to be of ``kind``."""
    if not isinstance(record, dict):
        raise InputError(
            f"expected a JSON object, got {type(record).__name__}",
            path=path,
            line=line,
            sample=sample,
        )
    if key not in record:
        raise InputError(f"missing field {key!r}", path=path, line=line, sample=sample)
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(
            f"field {key!r} must be {names}, got {type(value).__name__} {_short(value)}",
            path=path,
            line=line,
            sample=sample,
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite(
    value: Any, what: str, *, path: str | Path, line: int | None = None, sample: str | None = None
) -> float:
    """A finite float (an int or a float, not a bool), else an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(
            f"{what} must be a number, got {type(value).__name__} {_short(value)}",
            path=path,
            line=line,
            sample=sample,
        )
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite, got {value}", path=path, line=line, sample=sample)
    return value


def number(
    value: Any, what: str, *, path: Path, line: int | None = None, sample: str | None = None
) -> float:
    """A finite, non-negative float, else an error."""
    value = finite(value, what, path=path, line=line, sample=sample)
    if value < 0:
        raise InputError(f"{what} must be >= 0, got {value:g}", path=path, line=line, sample=sample)
    return value


def duration_value(
    value: Any, *, path: Path, line: int | None = None, sample: str | None = None
) -> float:
    """A video duration: a finite number > 0."""
    duration = number(value, "duration", path=path, line=line, sample=sample)
    if duration <= 0:
        raise InputError("duration must be > 0", path=path, line=line, sample=sample)
    return duration


def positive_field(
    record: Any, key: str, *, path: Path, line: int | None = None, sample: str | None = None
) -> float:
    """``record[key]`` as a finite number > 0 (a duration, an fps, a frame count)."""
    value = require(record, key, (int, float), path=path, line=line, sample=sample)
    return duration_value(value, path=path, line=line, sample=sample)


def paired_items(
    record: Any,
    windows_key: str,
    texts_key: str,
    text_name: str,
    *,
    path: Path,
    video: str,
    prefix: str | None = None,
) -> Iterator[tuple[str, Any, str]]:
    """``(sample id, raw window, text)`` for the parallel lists ``windows_key``/``texts_key``.

    Both lists must have the same length and every text must be a string (named
    ``text_name`` in the error). Sample ids are ``PREFIX#k``, ``PREFIX`` defaulting
    to ``video`` (the key that errors about the whole record name).
    """
    stamps = require(record, windows_key, list, path=path, sample=video)
    texts = require(record, texts_key, list, path=path, sample=video)
    if len(stamps) != len(texts):
        raise InputError(
            f"{len(stamps)} {windows_key} but {len(texts)} {texts_key}", path=path, sample=video
        )
    for k, (stamp, text) in enumerate(zip(stamps, texts, strict=True)):
        sample_id = f"{prefix if prefix is not None else video}#{k}"
        if not isinstance(text, str):
            raise InputError(
                f"{text_name} must be a string, got {type(text).__name__}",
                path=path,
                sample=sample_id,
            )
        yield sample_id, stamp, text


def window(
    value: Any,
    *,
    path: Path,
    line: int | None = None,
    sample: str | None = None,
    scale: float = 1.0,
) -> Span:
    """One ``[start, end]`` pair (times ``scale``); ``start > end`` is an error."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InputError(
            f"a window must be [start, end], got {_short(value)}",
            path=path,
            line=line,
            sample=sample,
        )
    start = number(value[0], "start", path=path, line=line, sample=sample) * scale
    end = number(value[1], "end", path=path, line=line, sample=sample) * scale
    if start > end:
        raise InputError(
            f"window start {start:g} is after its end {end:g}", path=path, line=line, sample=sample
        )
    return Span(start, end)


def windows(
    value: Any, *, path: Path, line: int | None = None, sample: str | None = None
) -> tuple[Span, ...]:
    """One window ``[s, e]`` or a non-empty list of windows ``[[s, e], ...]``."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return tuple(window(w, path=path, line=line, sample=sample) for w in value)
    if isinstance(value, (list, tuple)) and not value:
        raise InputError("no ground-truth window", path=path, line=line, sample=sample)
    return (window(value, path=path, line=line, sample=sample),)


def beyond(end: float, duration: float) -> bool:
    """True when a GT end lies after the duration by more than float noise (1e-6 s).

    ActivityNet stores e.g. duration ``196.57999999999998`` with an end of ``196.58``;
    that is the same time, not an annotation past the video.
    """
    return end > duration + 1e-6


def normalize_text(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()


def timelens_query(text: str) -> str:
    """The query cleaning of TimeLens: collapse whitespace, strip, strip periods, strip."""
    return _SPACES.sub(" ", text).strip().strip(".").strip()
