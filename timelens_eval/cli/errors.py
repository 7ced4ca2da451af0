"""How the command line reports a failure: one ``error:`` line, a hint where one helps.

Every way a command can fail ends here: a usage error of the command-line parser (an
unknown option or command, a missing argument, a bad value), an error the library raises
on purpose (:class:`~timelens_eval.errors.TimelensError`), an operating-system error (an
unwritable output path, a full disk) and any other exception (a bug). Each becomes one
``error: ...`` line on stderr, possibly followed by one ``hint: ...`` line, and an exit
code; the traceback is shown only in debug mode (``--debug`` or ``TIMELENS_EVAL_DEBUG=1``).

The parser's exceptions are recognised by duck typing (``format_message`` and
``exit_code``), never by importing ``click``: recent typer releases vendor their own copy
of click and a default install has no ``click`` package.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any, TextIO

from timelens_eval.errors import TimelensError

__all__ = ["DEBUG_ENV", "Failure", "describe_failure", "debug_requested", "report_failure"]

DEBUG_ENV = "TIMELENS_EVAL_DEBUG"
"""Environment variable that turns on debug mode (any value but empty, 0, false, no, off)."""

PROGRAM = "timelens-eval"

USAGE_EXIT = 2
"""Exit code of a usage error and of an error the library reports (bad input or option)."""

FAILURE_EXIT = 1
"""Exit code of an operating-system error or an unexpected exception."""


@dataclass(frozen=True)
class Failure:
    """What to print for one failure, and the exit code."""

    message: str
    hint: str | None
    exit_code: int


def debug_requested(argv: list[str], environ: Any = os.environ) -> tuple[bool, list[str]]:
    """Whether debug mode is on, and ``argv`` without the ``--debug`` flags.

    ``--debug`` is accepted anywhere before a ``--`` separator, so a user can add it to
    the command that just failed without moving it in front of the command name.
    """
    env = str(environ.get(DEBUG_ENV, "")).strip().lower()
    on = env not in ("", "0", "false", "no", "off")
    kept: list[str] = []
    for position, token in enumerate(argv):
        if token == "--":
            kept.extend(argv[position:])
            break
        if token == "--debug":
            on = True
            continue
        kept.append(token)
    return on, kept


def _is_parser_error(exc: BaseException) -> bool:
    """A usage error of the command-line parser (click's, vendored or not)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "ClickException" in names and hasattr(exc, "format_message")


def _command_path(exc: BaseException) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    return str(path) if path else PROGRAM


def _close(word: str, choices: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=2, cutoff=0.5)
    return " or ".join(matches) if matches else None


def _param_name(param: Any, ctx: Any) -> str | None:
    """How the parser names a parameter (``PREDICTIONS``, ``'--config'``), unquoted."""
    try:  # the signature differs between click and typer's copy of it
        hint = param.get_error_hint(ctx)
    except TypeError:
        hint = param.get_error_hint()
    except Exception:
        return getattr(param, "name", None)
    return str(hint).replace("'", "").replace('"', "")


def _parser_failure(exc: BaseException) -> Failure:
    """One line for a usage error: lower-case, no usage block, a suggestion if any."""
    kind = type(exc).__name__
    command = _command_path(exc)
    text = str(exc.format_message()).strip()  # type: ignore[attr-defined]
    code = int(getattr(exc, "exit_code", USAGE_EXIT) or USAGE_EXIT)
    help_hint = f"`{command} --help` lists the options and arguments"
    if kind == "NoSuchOption":
        option = str(getattr(exc, "option_name", "") or "")
        possible = sorted(getattr(exc, "possibilities", None) or [])
        message = f"{command}: no such option {option}"
        if possible:
            return Failure(message, f"did you mean {' or '.join(possible)}?", code)
        return Failure(message, help_hint, code)
    if kind == "MissingParameter":
        param = getattr(exc, "param", None)
        what = getattr(param, "param_type_name", None) or "parameter"
        name = None
        if param is not None:
            name = _param_name(param, getattr(exc, "ctx", None))
        message = f"{command}: missing {what} {name}" if name else f"{command}: {text}"
        return Failure(message, help_hint, code)
    match = re.match(r"No such command '(.*?)'", text)
    if match:
        ctx = getattr(exc, "ctx", None)
        group = getattr(ctx, "command", None)
        names: list[str] = []
        if group is not None and hasattr(group, "list_commands"):
            names = list(group.list_commands(ctx))
        close = _close(match[1], names)
        message = f"{command}: no such command {match[1]!r}"
        if close:
            return Failure(message, f"did you mean {close}?", code)
        return Failure(message, f"commands: {', '.join(names)}" if names else help_hint, code)
    # Other usage errors: "Invalid value for '--limit': 0 is not in the range x>=1." etc.
    text = text[0].lower() + text[1:] if text else kind
    hint = help_hint if code == USAGE_EXIT else None
    return Failure(f"{command}: {text.rstrip('.')}", hint, code)


def describe_failure(exc: BaseException) -> Failure:
    """The line, hint and exit code for ``exc`` (see the module docstring)."""
    if isinstance(exc, TimelensError):
        return Failure(str(exc), None, USAGE_EXIT)
    if _is_parser_error(exc):
        return _parser_failure(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        message = f"{exc.filename}: {reason}" if exc.filename is not None else reason
        hint = None
        if isinstance(exc, PermissionError):
            hint = "choose a path you may write to (for `run`: --output or --runs-dir)"
        return Failure(message, hint, FAILURE_EXIT)
    if isinstance(exc, MemoryError):
        return Failure("out of memory", None, FAILURE_EXIT)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else "")
    hint = f"this is a bug; rerun with --debug (or {DEBUG_ENV}=1) to see the traceback"
    return Failure(message, hint, FAILURE_EXIT)


def report_failure(exc: BaseException, *, debug: bool, stream: TextIO | None = None) -> int:
    """Print ``exc`` as an ``error:`` line (and a hint); with ``debug``, the traceback
    first. Returns the exit code."""
    stream = stream if stream is not None else sys.stderr
    try:
        failure = describe_failure(exc)
    except Exception:  # describing must never fail in its turn
        failure = Failure(f"{type(exc).__name__}: {exc}", None, FAILURE_EXIT)
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    print(f"error: {failure.message}", file=stream)
    if failure.hint:
        print(f"hint: {failure.hint}", file=stream)
    return failure.exit_code
