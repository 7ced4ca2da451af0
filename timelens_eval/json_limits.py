"""Reading JSON and JSONL that may be hostile: bounded size, nesting and numbers.

Every file a command reads (result headers, specs, per-sample streams, prediction and
annotation files) goes through these readers, so a file can neither exhaust memory nor
crash the reader: each limit is refused with one :class:`~timelens_eval.errors.InputError`
naming the file and, where known, the line.

The limits and how to change them (environment variables, read when a file is read):

=================================  ========  ==============================================
variable                           default   what it bounds
=================================  ========  ==============================================
``TIMELENS_EVAL_MAX_FILE_MB``      1024      a data file: predictions, annotations, a
                                             per-sample stream
``TIMELENS_EVAL_MAX_HEADER_MB``    16        a result header or a run spec
``TIMELENS_EVAL_MAX_LINE_MB``      64        one line of a JSONL file
``TIMELENS_EVAL_MAX_JSON_DEPTH``   64        nesting of arrays and objects in a header, a
                                             spec or a JSONL line
``TIMELENS_EVAL_MAX_NUMBER_CHARS`` 100       characters of one number in a header, a spec
                                             or a JSONL line
=================================  ========  ==============================================

Whole-file JSON data (a TimeLens ``.json`` prediction file, a ``.json`` annotation file)
is parsed without the per-number and depth scans, which would cost more than the parse;
there, integers are bounded by Python's own limit (4,300 digits) and nesting by the
parser's recursion guard (about 1,000 levels), each refused with the same one-line error.

Only regular files are read (never a device, a pipe or a folder), and never more bytes
than the limit, even from files whose size the system does not report (``/proc``).
``NaN`` and ``Infinity`` literals are refused. A key given twice in one object is an
error, or is collected for the caller to report (``duplicates=[]``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from timelens_eval.errors import InputError

__all__ = [
    "ReadLimits",
    "read_limits",
    "open_regular_file",
    "read_regular_file",
    "decode_utf8",
    "loads",
    "read_json_file",
    "iter_jsonl_lines",
    "iter_jsonl",
    "too_deep",
]

_MB = 1 << 20
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class ReadLimits:
    """What a reader accepts (see the module docstring for the variables that set them)."""

    file_bytes: int = 1024 * _MB
    header_bytes: int = 16 * _MB
    line_bytes: int = 64 * _MB
    depth: int = 64
    number_chars: int = 100

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        """Defaults, overridden by the ``TIMELENS_EVAL_MAX_*`` variables that are set."""
        env = os.environ if environ is None else environ
        fields = {
            "file_bytes": ("TIMELENS_EVAL_MAX_FILE_MB", _MB),
            "header_bytes": ("TIMELENS_EVAL_MAX_HEADER_MB", _MB),
            "line_bytes": ("TIMELENS_EVAL_MAX_LINE_MB", _MB),
            "depth": ("TIMELENS_EVAL_MAX_JSON_DEPTH", 1),
            "number_chars": ("TIMELENS_EVAL_MAX_NUMBER_CHARS", 1),
        }
        values: dict[str, int] = {}
        for field, (name, unit) in fields.items():
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                number = float(raw)
            except ValueError:
                number = float("nan")
            if not number >= 1 or number > 1 << 40:
                from timelens_eval.errors import ConfigError

                raise ConfigError(f"{name}={raw!r}: expected a number >= 1")
            values[field] = int(number * unit)
        return cls(**values)


def read_limits() -> ReadLimits:
    """The limits in force now (defaults and environment)."""
    return ReadLimits.from_env()


def _limit_text(limit: int) -> str:
    return f"{limit / _MB:g} MB" if limit >= _MB else f"{limit} bytes"


def open_regular_file(path: str | Path) -> BinaryIO:
    """``path`` opened for reading in binary, refused unless it is a regular file.

    The file is opened without blocking (a named pipe would otherwise wait for a
    writer forever) and checked on the open descriptor, so a swapped path cannot slip
    a device in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", path=path) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise InputError(f"not a regular file ({kind})", path=path)
    return os.fdopen(fd, "rb")


def read_regular_file(path: str | Path, max_bytes: int, *, what: str, env: str) -> bytes:
    """The bytes of ``path``: a regular file of at most ``max_bytes`` (named by ``env``)."""
    with open_regular_file(path) as fh:
        too_big = InputError(
            f"{what} is larger than {_limit_text(max_bytes)} (raise {env} to read it)", path=path
        )
        if os.fstat(fh.fileno()).st_size > max_bytes:
            raise too_big
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror or exc})", path=path) from None
    if len(data) > max_bytes:
        raise too_big
    return data


def decode_utf8(data: bytes, *, path: str | Path, line: int | None = None) -> str:
    """``data`` as text; bytes that are not UTF-8 are refused naming their line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = data[: exc.start].count(b"\n") + (line or 1)
        raise InputError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path, line=at
        ) from None


def too_deep(text: str, limit: int) -> int | None:
    """Offset in ``text`` where JSON nesting first exceeds ``limit`` levels, else None."""
    if text.count("[") + text.count("{") <= limit:
        return None  # cannot nest deeper than the brackets it holds
    depth = 0
    start = 0
    for string in (*_STRING.finditer(text), None):
        stop = string.start() if string is not None else len(text)
        for bracket in _BRACKET.finditer(text, start, stop):
            if bracket.group() in "[{":
                depth += 1
                if depth > limit:
                    return bracket.start()
            else:
                depth -= 1
        if string is not None:
            start = string.end()
    return None


def _line_of(text: str, offset: int, first: int) -> int:
    return first + text.count("\n", 0, max(0, offset))


class _Hooks:
    """``json.loads`` hooks: bounded numbers, no NaN/Infinity, duplicate keys noticed."""

    def __init__(
        self,
        limits: ReadLimits,
        duplicates: list[str] | None,
        *,
        check_numbers: bool,
        check_keys: bool,
        infinity: bool,
    ) -> None:
        self.limits = limits
        self.duplicates = duplicates
        self.first_duplicate: str | None = None
        self.long_number: str | None = None
        self.check_numbers = check_numbers
        self.check_keys = check_keys
        self.infinity = infinity

    def constant(self, name: str) -> Any:
        if self.infinity and name in ("Infinity", "-Infinity"):
            return float(name)
        raise ValueError(f"{name} is not allowed")

    def integer(self, text: str) -> int:
        if len(text) > self.limits.number_chars:
            self.long_number = text
            raise ValueError("number too long")
        return int(text)

    def real(self, text: str) -> float:
        if len(text) > self.limits.number_chars:
            self.long_number = text
            raise ValueError("number too long")
        return float(text)

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    if self.duplicates is None:
                        self.first_duplicate = key
                        raise ValueError("duplicate key")
                    self.duplicates.append(key)
                seen.add(key)
        return out

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"parse_constant": self.constant}
        if self.check_keys:
            out["object_pairs_hook"] = self.pairs
        if self.check_numbers:
            out.update(parse_int=self.integer, parse_float=self.real)
        return out


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def loads(
    text: str,
    *,
    path: str | Path,
    line: int | None = None,
    limits: ReadLimits | None = None,
    duplicates: list[str] | None = None,
    check_depth: bool = True,
    check_numbers: bool = True,
    check_keys: bool = True,
    infinity: bool = False,
) -> Any:
    """Parse one JSON text (a whole file, or line ``line`` of a JSONL file).

    Keys given twice in one object raise, or are appended to ``duplicates`` when a list
    is passed (``check_keys=False``: the last value is kept unnoticed). Depth and number
    checks can be left out for whole data files (see the module docstring).
    ``infinity=True`` reads ``Infinity``/``-Infinity`` (never ``NaN``).
    """
    limits = limits or read_limits()
    first = line or 1
    if check_depth:
        at = too_deep(text, limits.depth)
        if at is not None:
            raise InputError(
                f"JSON nested deeper than {limits.depth} levels "
                "(raise TIMELENS_EVAL_MAX_JSON_DEPTH to read it)",
                path=path,
                line=_line_of(text, at, first),
            )
    hooks = _Hooks(
        limits,
        duplicates,
        check_numbers=check_numbers,
        check_keys=check_keys,
        infinity=infinity,
    )
    try:
        return json.loads(text, **hooks.kwargs())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg})", path=path, line=exc.lineno + first - 1
        ) from None
    except RecursionError:
        raise InputError(
            "JSON nested deeper than the parser allows", path=path, line=line
        ) from None
    except ValueError as exc:
        if hooks.first_duplicate is not None:
            key = hooks.first_duplicate
            quoted = json.dumps(key, ensure_ascii=False)
            at = text.find(quoted, text.find(quoted) + 1)
            where = _line_of(text, at, first) if at >= 0 else line
            raise InputError(
                f"key {_short(key)!r} given twice in one object", path=path, line=where
            ) from None
        if hooks.long_number is not None:
            number = hooks.long_number
            raise InputError(
                f"a number of {len(number)} characters ({_short(number, 20)}) is longer than "
                f"{limits.number_chars} (raise TIMELENS_EVAL_MAX_NUMBER_CHARS to read it)",
                path=path,
                line=_line_of(text, text.find(number), first),
            ) from None
        raise InputError(f"not valid JSON ({exc})", path=path, line=line) from None


def read_json_file(
    path: str | Path,
    *,
    header: bool = False,
    limits: ReadLimits | None = None,
    duplicates: list[str] | None = None,
) -> Any:
    """Parse a whole JSON file: a header or spec (``header=True``: every check, the
    header size limit) or a data file (the file size limit; no depth or number scan)."""
    limits = limits or read_limits()
    if header:
        data = read_regular_file(
            path, limits.header_bytes, what="the file", env="TIMELENS_EVAL_MAX_HEADER_MB"
        )
    else:
        data = read_regular_file(
            path, limits.file_bytes, what="the file", env="TIMELENS_EVAL_MAX_FILE_MB"
        )
    text = decode_utf8(data, path=path)
    del data
    return loads(
        text,
        path=path,
        limits=limits,
        duplicates=duplicates,
        check_depth=header,
        check_numbers=header,
    )


def iter_jsonl_lines(
    path: str | Path, *, limits: ReadLimits | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line)`` of a JSONL file, read a line at a time; the file and
    each line are bounded by the limits, and only regular files are read."""
    limits = limits or read_limits()
    with open_regular_file(path) as fh:
        total = 0
        number = 0
        while True:
            raw = fh.readline(limits.line_bytes + 1)
            if not raw:
                return
            number += 1
            if len(raw) > limits.line_bytes and not raw.endswith(b"\n"):
                raise InputError(
                    f"line longer than {_limit_text(limits.line_bytes)} "
                    "(raise TIMELENS_EVAL_MAX_LINE_MB to read it)",
                    path=path,
                    line=number,
                )
            total += len(raw)
            if total > limits.file_bytes:
                raise InputError(
                    f"the file is larger than {_limit_text(limits.file_bytes)} "
                    "(raise TIMELENS_EVAL_MAX_FILE_MB to read it)",
                    path=path,
                    line=number,
                )
            yield number, raw


def iter_jsonl(
    path: str | Path, *, limits: ReadLimits | None = None, duplicates: list[str] | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSONL file, every check on.

    A key given twice in one object is an error, or is appended to ``duplicates`` when a
    list is passed (the last value is kept, as ``json.loads`` does).
    """
    limits = limits or read_limits()
    for number, raw in iter_jsonl_lines(path, limits=limits):
        text = decode_utf8(raw, path=path, line=number)
        if not text.strip():
            continue
        yield number, loads(text, path=path, line=number, limits=limits, duplicates=duplicates)
