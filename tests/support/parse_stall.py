"""A parser that stalls on one marked answer, for the tests of the parse-time cap.

The parser is linear on every answer shape found so far, so no real answer makes it run
for seconds; the cap (``parse_timeout``) still guards against the next shape. These
tests make one answer stall by putting a ``sitecustomize`` module on ``PYTHONPATH`` for
a child process: it wraps :func:`timelens_eval.parsing.parse_spans` so that an answer
starting with :data:`STALL` sleeps for ten minutes, in the runner and in its parse
process alike (that process starts a fresh interpreter, which imports the shim too).
"""

from __future__ import annotations

import os
from pathlib import Path

STALL = "<<stall>>"

_SHIM = f"""
import time
import timelens_eval.parsing as _parsing

_parse_spans = _parsing.parse_spans


def _stalling(text, *args, **kwargs):
    if isinstance(text, str) and text.startswith({STALL!r}):
        time.sleep(600)
    return _parse_spans(text, *args, **kwargs)


_parsing.parse_spans = _stalling
"""


def stalling_env(folder: Path) -> dict[str, str]:
    """The environment for a child process whose parser stalls on :data:`STALL`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SHIM, encoding="utf-8")
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(folder), path) if p)}
