"""What the runner checks between an adapter and the per-sample stream.

An adapter is code the runner does not control, speaking to a server nobody controls.
Before anything is recorded:

* :func:`checked_output`: the adapter's return value must be a
  :class:`~timelens_eval.adapters.GroundingOutput` whose ``text`` is a string and whose
  usage, latency and cost are non-negative finite numbers; anything else is a per-sample
  error (never a crash of the run, never scored);
* :func:`cut_answer`: an answer longer than ``RunOptions.max_answer_chars`` is cut to
  that length and flagged in the record (``meta.answer_truncated``, ``meta.answer_chars``);
  the cut text is what is stored and parsed;
* :func:`server_wait`: a wait the server asks for (``Retry-After``) is honoured only up to
  ``RunOptions.max_retry_after`` seconds; a longer one is not waited out, and the usual
  backoff follows.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from timelens_eval.adapters import GroundingOutput, Usage
from timelens_eval.benchmarks.base import Sample
from timelens_eval.parsing import ParsedAnswer
from timelens_eval.protocol import Protocol
from timelens_eval.runner.parse_worker import BatchedParser
from timelens_eval.store import RunSpec

__all__ = [
    "InvalidOutput",
    "AnswerPolicy",
    "answer_fields",
    "parsed_fields",
    "record_fields",
    "checked_output",
    "cut_answer",
    "cut_error",
    "server_wait",
    "over_cap_note",
    "redacted_spec",
    "redact_json",
    "ERROR_CHARS",
]

ERROR_CHARS = 2000
"""Longest error message kept in a record (a server may echo anything into one)."""

_LONG_ANSWER = 100_000  # characters: redacting and cutting longer ones goes to a thread


class InvalidOutput(ValueError):
    """An adapter returned something that is not a valid grounding output."""


def _kind(value: Any) -> str:
    return type(value).__name__


def _amount(value: Any, what: str, *, integer: bool = False) -> None:
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InvalidOutput(f"{what} is {_kind(value)} {str(value)[:40]!r}, not a number")
    if not math.isfinite(value) or value < 0:
        raise InvalidOutput(f"{what} is {value}, not a finite number >= 0")


def checked_output(value: Any) -> GroundingOutput:
    """``value`` if it is a valid :class:`GroundingOutput`, else :class:`InvalidOutput`."""
    if not isinstance(value, GroundingOutput):
        raise InvalidOutput(f"the adapter returned {_kind(value)}, not a GroundingOutput")
    if not isinstance(value.text, str):
        raise InvalidOutput(f"the answer is {_kind(value.text)}, not text")
    usage = value.usage
    if usage is not None:
        if not isinstance(usage, Usage):
            raise InvalidOutput(f"usage is {_kind(usage)}, not Usage")
        _amount(usage.input_tokens, "usage.input_tokens", integer=True)
        _amount(usage.output_tokens, "usage.output_tokens", integer=True)
    _amount(value.latency_s, "latency_s")
    _amount(value.cost_usd, "cost_usd")
    return value


def cut_answer(text: str, max_chars: int) -> tuple[str, int | None]:
    """``(text, None)``, or the first ``max_chars`` characters and the original length."""
    if len(text) <= max_chars:
        return text, None
    return text[:max_chars], len(text)


def cut_error(text: str) -> str:
    """An error message of at most :data:`ERROR_CHARS` characters."""
    if len(text) <= ERROR_CHARS:
        return text
    return text[: ERROR_CHARS - 3] + "..."


def server_wait(asked: float | None, cap: float) -> float | None:
    """The wait to honour: ``asked`` when it is a finite number of seconds within ``cap``."""
    if asked is None or not math.isfinite(asked) or asked > cap:
        return None
    return max(0.0, asked)


def over_cap_note(asked: float | None, cap: float) -> str:
    """Said in a failed try's error when the server asked for a wait over ``cap``."""
    if asked is None or server_wait(asked, cap) is not None:
        return ""
    return f" (the server asked to wait {asked:g} s, over the {cap:g} s cap: not waited out)"


def redacted_spec(spec: RunSpec, redact: Callable[[str], str | None]) -> RunSpec:
    """``spec`` with known secret values removed from the model name and adapter args."""
    args = redact_json(spec.adapter_args, redact)
    model = redact(spec.model) or ""
    if args == spec.adapter_args and model == spec.model:
        return spec
    return spec.model_copy(update={"adapter_args": args, "model": model})


def redact_json(value: Any, redact: Callable[[str], str | None]) -> Any:
    """``value`` (plain JSON data) with every string, keys included, passed through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, redact) for v in value]
    return value


@dataclass(frozen=True)
class AnswerPolicy:
    """How an answer becomes record fields: the run's redactor, answer cap and protocol."""

    redact: Callable[[str | None], str | None]
    max_chars: int
    protocol: Protocol
    parse_timeout: float


def answer_fields(
    output: GroundingOutput, policy: AnswerPolicy
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(record fields, meta notes)`` of a checked output, before parsing.

    The answer is redacted (``meta.redacted`` when that changed it) and cut to
    ``max_chars`` (``meta.answer_truncated``, ``meta.answer_chars``): what is stored is
    exactly what is then parsed (:func:`parsed_fields`).
    """
    notes: dict[str, Any] = {}
    redacted = policy.redact(output.text) or ""
    text, cut_from = cut_answer(redacted, policy.max_chars)
    if redacted != output.text:
        notes["redacted"] = True
    if cut_from is not None:
        notes.update(answer_truncated=True, answer_chars=cut_from)
    usage = output.usage
    fields: dict[str, Any] = {
        "answer": text,
        "latency_s": output.latency_s,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cost_usd": output.cost_usd,
    }
    return fields, notes


def parsed_fields(
    parsed: ParsedAnswer | None,
    answer: str,
    gt: Sequence[Sequence[float]],
    policy: AnswerPolicy,
) -> dict[str, Any]:
    """Spans, status and IoU of a parsed answer; an answer not parsed within the
    ``parse_timeout`` (``parsed`` is None) is status ``error`` with IoU 0."""
    from timelens_eval.metrics import score_parsed

    if parsed is None:
        seconds = f"{policy.parse_timeout:g}"
        error = f"the answer ({len(answer)} characters) was not parsed within {seconds} s"
        return {"status": "error", "iou": 0.0, "error": error}
    return {
        "spans": [(s.start, s.end) for s in parsed.spans],
        "status": parsed.status.value,
        "iou": score_parsed(parsed, gt, policy.protocol),
    }


async def record_fields(
    output: GroundingOutput, sample: Sample, policy: AnswerPolicy, parser: BatchedParser
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(record fields, meta notes)`` of one checked output: the answer redacted and cut
    (:func:`answer_fields`), parsed in the parse process under the policy's timeout, and
    scored (:func:`parsed_fields`), all off the event loop. A failure of the parse process
    is that sample's error."""
    from timelens_eval.runner.parse_worker import ParserError

    if len(output.text) > _LONG_ANSWER:
        fields, notes = await asyncio.to_thread(answer_fields, output, policy)
    else:
        fields, notes = answer_fields(output, policy)
    try:
        parsed = await parser.parse(fields["answer"], sample.duration)
        gt = [tuple(w) for w in sample.gt]
        fields.update(parsed_fields(parsed, fields["answer"], gt, policy))
    except ParserError as exc:  # the next sample gets a new parse process
        fields.update(status="error", iou=0.0, error=str(exc))
    return fields, notes
