"""A scripted OpenAI-style HTTP server on 127.0.0.1 for the adapter's fault tests.

Each POST takes the next action from a script (the last action repeats once the script
is spent); every attempt is recorded with its arrival time and headers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The event happens in 1.0 - 2.5 seconds."


def make_request(sample_id: str = "s1") -> Any:
    """A small grounding request: two frames with interleaved timestamp labels."""
    import numpy as np

    from timelens_eval.adapters import GroundingRequest
    from timelens_eval.messages import ImagePart, PromptMessage, TextPart

    parts = (
        TextPart("Find 'a red ball rolls'. "),
        TextPart("<0.0s>"),
        ImagePart(np.zeros((8, 8, 3), np.uint8), 0.0, 0),
        TextPart("<0.5s>"),
        ImagePart(np.full((8, 8, 3), 255, np.uint8), 0.5, 1),
    )
    message = PromptMessage(parts, template="t", template_hash="h", encoding="text")
    return GroundingRequest(sample_id, "a red ball rolls", 4.0, None, message)


def ground_once(adapter: Any) -> Any:
    """Ground :func:`make_request` with ``adapter`` in a fresh event loop, then close it."""
    import asyncio

    async def go() -> Any:
        try:
            return await adapter.ground(make_request())
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def completion(text: str = ANSWER, prompt_tokens: int = 1200, completion_tokens: int = 14) -> dict:
    """A valid chat.completion body."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass(frozen=True)
class Reply:
    """Answer with ``status`` and ``body`` (a dict is sent as JSON, bytes as they are)."""

    status: int = 200
    body: Any = field(default_factory=completion)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client timeout: a timeout)."""


@dataclass(frozen=True)
class Drop:
    """Read the request, then close the connection without answering."""


@dataclass
class Attempt:
    time: float
    headers: dict[str, str]
    body: dict[str, Any] | None


class FaultServer:
    """Context manager: a threaded HTTP server following ``script``."""

    def __init__(
        self,
        script: list[Reply | Drop] | None = None,
        per_sample: dict[str, list[Reply | Drop]] | None = None,
    ) -> None:
        """``script`` serves requests in arrival order; ``per_sample`` keys scripts by the
        ``timelens.sample_id`` of the body (the adapter's ``send_metadata=true``)."""
        self.script = list(script or []) or [Reply()]
        self.per_sample = {k: list(v) for k, v in (per_sample or {}).items()}
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def _next(self, body: Any) -> Reply | Drop:
        sample = ((body or {}).get("timelens") or {}).get("sample_id")
        with self._lock:
            script = self.per_sample.get(sample, self.script) if self.per_sample else self.script
            return script.pop(0) if len(script) > 1 else script[0]

    def attempts_of(self, sample_id: str) -> list[Attempt]:
        """The attempts whose body named ``sample_id``."""
        return [
            a
            for a in self.attempts
            if ((a.body or {}).get("timelens") or {}).get("sample_id") == sample_id
        ]

    def __enter__(self) -> FaultServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                action = owner._next(body)
                with owner._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    owner.attempts.append(Attempt(time.monotonic(), headers, body))
                if isinstance(action, Drop):
                    self.close_connection = True
                    return
                if action.delay:
                    time.sleep(action.delay)
                payload = (
                    action.body
                    if isinstance(action.body, bytes)
                    else json.dumps(action.body).encode()
                )
                try:
                    self.send_response(action.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for key, value in action.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def gaps(self) -> list[float]:
        """Seconds between consecutive attempts."""
        times = [a.time for a in self.attempts]
        return [b - a for a, b in zip(times[:-1], times[1:], strict=True)]

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
