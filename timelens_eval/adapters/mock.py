"""``mock``: a scripted adapter with controllable answers, latency and failures.

It is a real adapter (the runner cannot tell it from a model), and the backbone of the
test suite and of the runner benchmark. Everything it does is deterministic given its
arguments and the request's sample id.

Answers, in order of precedence:

1. ``answers``: a mapping from sample id or query to the answer text, or a path to a
   JSON file holding such a mapping (from Python, also a callable taking the request);
2. otherwise ``rule``: ``"hash"`` (default) answers a span derived from a hash of the
   sample id, ``"center"`` the middle half of the video, ``"whole"`` the whole video,
   ``"none"`` an answer without any time.

Failures: ``fail_times={"id": k}`` fails the first ``k`` calls for that sample (a
transient error), ``fail_always=["id", ...]`` fails every call; ``retry_after`` is
attached to those errors. ``key_env`` names an environment variable that must hold an
API key (construction fails without it); ``echo_key`` puts the key into failure
messages, as a careless client would (the runner must redact it). ``latency``
(seconds) is awaited before each answer, plus a deterministic per-sample ``jitter``
fraction of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Union

import numpy as np

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GroundingOutput,
    GroundingRequest,
    ModelType,
    Usage,
)
from timelens_eval.errors import ConfigError
from timelens_eval.messages import ImagePart

__all__ = ["MockAdapter", "hash_fraction"]

Rule = Literal["hash", "center", "whole", "none"]
AnswerSource = Union[Mapping[str, str], str, Callable[[GroundingRequest], str], None]  # noqa: UP007


def hash_fraction(*parts: object) -> float:
    """A deterministic number in ``[0, 1)`` from ``parts`` (stable across processes)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


KEPT_REQUESTS = 1000
"""How many recent requests a mock adapter remembers."""

_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)


def _without_frames(request: GroundingRequest) -> GroundingRequest:
    """``request`` with every frame's pixels dropped (timestamps and indices kept)."""
    if request.message is None:
        return request
    parts = tuple(
        ImagePart(_NO_PIXELS, p.timestamp, p.index) if isinstance(p, ImagePart) else p
        for p in request.message.parts
    )
    message = dataclasses.replace(request.message, parts=parts)
    return dataclasses.replace(request, message=message)


def _answer_text(start: float, end: float) -> str:
    return f"The event happens in {start:.2f} - {end:.2f} seconds."


class MockAdapter(Adapter):
    """Scripted answers, latency and failures (see the module docstring)."""

    name: ClassVar[str] = "mock"
    model_type: ClassVar[ModelType] = "baseline"
    needs_frames: ClassVar[bool] = False
    """Per instance: ``frames=true`` makes the runner decode frames and build prompts."""

    def __init__(
        self,
        answers: AnswerSource = None,
        rule: Rule = "hash",
        latency: float = 0.0,
        jitter: float = 0.0,
        fail_times: dict[str, int] | None = None,
        fail_always: list[str] | None = None,
        retry_after: float | None = None,
        frames: bool = False,
        model: str = "mock",
        cost_per_call: float = 0.0,
        api_key: str | None = None,
        key_env: str | None = None,
        echo_key: bool = False,
    ) -> None:
        if latency < 0 or jitter < 0:
            raise ConfigError("mock: latency and jitter must be >= 0")
        if rule not in ("hash", "center", "whole", "none"):
            raise ConfigError(f"mock: unknown rule {rule!r} (hash, center, whole, none)")
        if key_env is not None:
            api_key = api_key or os.environ.get(key_env)
            if not api_key:
                raise ConfigError(f"mock: environment variable {key_env} is not set")
        args: dict[str, Any] = {
            "rule": rule,
            "latency": latency,
            "jitter": jitter,
            "fail_times": dict(fail_times or {}),
            "fail_always": sorted(fail_always or []),
            "retry_after": retry_after,
            "frames": frames,
            "model": model,
            "cost_per_call": cost_per_call,
            "api_key": api_key,
            "key_env": key_env,
            "echo_key": echo_key,
        }
        self._answer_fn: Callable[[GroundingRequest], str] | None = None
        self._answers: dict[str, str] = {}
        if callable(answers):
            self._answer_fn = answers
            args["answers"] = getattr(answers, "__qualname__", "callable")
        elif isinstance(answers, str):
            path = Path(answers)
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"mock: answers file not found: {path}") from None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"mock: {path}:{exc.lineno}: not valid JSON") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"mock: {path} must hold a JSON object id/query -> answer")
            self._answers = {str(k): str(v) for k, v in loaded.items()}
            args["answers"] = str(path)
        elif answers is not None:
            self._answers = {str(k): str(v) for k, v in answers.items()}
            args["answers"] = dict(self._answers)
        super().__init__(**args)
        self.needs_frames = frames  # type: ignore[misc]
        self.calls: dict[str, int] = {}
        """Calls per sample id so far (tests read it)."""
        self.requests: deque[GroundingRequest] = deque(maxlen=KEPT_REQUESTS)
        """The latest requests received (at most :data:`KEPT_REQUESTS`), in order, their
        frames dropped (timestamps kept): tests read them, and a server in front of
        this adapter keeps no frames after answering."""
        self.max_in_flight: int = 0
        self._in_flight = 0

    def _text(self, request: GroundingRequest) -> str:
        if self._answer_fn is not None:
            return self._answer_fn(request)
        for key in (request.sample_id, request.query):
            if key in self._answers:
                return self._answers[key]
        rule = self.args["rule"]
        low, high = request.clip if request.clip is not None else (0.0, request.duration)
        length = high - low
        if rule == "whole":
            return _answer_text(low, high)
        if rule == "center":
            return _answer_text(low + 0.25 * length, low + 0.75 * length)
        if rule == "none":
            return "I cannot tell when that happens."
        a = hash_fraction("start", request.sample_id)
        b = hash_fraction("end", request.sample_id)
        start, end = sorted((a, b))
        return _answer_text(low + start * length, low + max(end, start + 0.05) * length)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Wait the scripted latency, then answer or fail as scripted."""
        started = time.perf_counter()
        self.requests.append(_without_frames(request))
        count = self.calls.get(request.sample_id, 0) + 1
        self.calls[request.sample_id] = count
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            delay = self.args["latency"]
            if self.args["jitter"]:
                delay *= 1.0 + self.args["jitter"] * hash_fraction("latency", request.sample_id)
            if delay > 0:
                await asyncio.sleep(delay)
            if request.sample_id in self.args["fail_always"]:
                # echo_key imitates a careless client that puts the key in its errors.
                leak = f" (key {self.args['api_key']})" if self.args["echo_key"] else ""
                raise AdapterError(
                    f"scripted persistent failure (call {count}){leak}",
                    retry_after=self.args["retry_after"],
                )
            if count <= self.args["fail_times"].get(request.sample_id, 0):
                raise AdapterError(
                    f"scripted transient failure (call {count})",
                    retry_after=self.args["retry_after"],
                )
            text = self._text(request)
        finally:
            self._in_flight -= 1
        frames = len(request.message.images) if request.message is not None else 0
        return GroundingOutput(
            text=text,
            usage=Usage(input_tokens=len(request.query.split()) + frames, output_tokens=12),
            latency_s=time.perf_counter() - started,
            cost_usd=self.args["cost_per_call"] or None,
        )
