"""An OpenAI-compatible endpoint in front of any adapter (``timelens-eval serve``).

``POST /v1/chat/completions`` turns a chat request into a
:class:`~timelens_eval.adapters.GroundingRequest`, asks the adapter, and answers with a
``chat.completion`` object; ``GET /v1/models`` lists the one served model.

Translation of a request:

* the ``system`` and ``user`` messages' parts, in order, become the prompt message:
  ``text`` parts stay text, ``image_url`` parts (base64 ``data:`` URLs only; the server
  fetches nothing) are decoded to ``H x W x 3`` uint8 RGB arrays;
* frame timestamps come, in this order of preference, from the ``timelens`` body field
  (``{"sample_id", "query", "duration", "clip", "timestamps"}``, sent by the ``openai`` adapter
  with ``send_metadata=true``), from numbers written next to the frames (a label right
  before every frame, else right after every frame; they must increase), or from the
  frame index at ``fps`` frames per second;
* ``temperature``, ``top_p``, ``max_completion_tokens``/``max_tokens`` and ``seed`` form
  the generation config (greedy by default).

Adapter failures map to HTTP the way OpenAI clients retry on: a retryable
:class:`~timelens_eval.adapters.AdapterError` is a 503 with ``Retry-After`` when the
adapter gave one; any other failure, and an output that is not a valid
:class:`~timelens_eval.adapters.GroundingOutput` (an answer that is not text), is a 500
with ``x-should-retry: false``. The adapter's secrets and the server's own key are
replaced by ``***`` in answers and error messages. The server keeps nothing of a request
after answering it.

Starlette and uvicorn are imported here, so import this module only to serve
(``pip install 'timelens-eval[serve]'``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from timelens_eval.adapters import Adapter, AdapterError, GenerationConfig, GroundingRequest
from timelens_eval.errors import MissingDependencyError
from timelens_eval.messages import ImagePart, Part, PromptMessage, TextPart
from timelens_eval.spans import Span

__all__ = [
    "ChatRequestError",
    "request_from_chat",
    "completion_body",
    "create_app",
    "run_server",
    "ServerThread",
]

log = logging.getLogger("timelens_eval.serve")

_NUMBER = re.compile(r"(?:\d+:)?\d+:\d+(?:\.\d+)?|\d+(?:\.\d+)?")
_LABEL_CHARS = 48  # how far from a frame a timestamp label may start
_LISTED = re.compile(r"\bat ((?:\d+(?:\.\d+)?,\s*)*\d+(?:\.\d+)?) seconds")


class ChatRequestError(ValueError):
    """A chat request the server cannot translate (answered with HTTP 400)."""


def _require_stack() -> None:
    for module in ("starlette", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            raise MissingDependencyError("timelens-eval serve", "serve", module) from None


def _decode_image(url: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not url.startswith("data:image/") or ";base64," not in url:
        raise ChatRequestError("image_url must be a base64 data URL (data:image/...;base64,...)")
    try:
        raw = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.uint8)
    except (binascii.Error, UnidentifiedImageError, OSError) as exc:
        raise ChatRequestError(f"image_url is not a decodable image ({exc})") from None


def _seconds(token: str) -> float:
    fields = token.split(":")
    value = float(fields[-1])
    for scale, field in zip((60, 3600), reversed(fields[:-1]), strict=False):
        value += scale * int(field)
    return value


def _label(text: str, width: int, *, last: bool) -> float | None:
    window = text[-width:] if last else text[:width]
    if "frame" in window.lower():
        return None  # a frame number ("Frame 3:"), not seconds
    found = _NUMBER.findall(window)
    if not found:
        return None
    return _seconds(found[-1] if last else found[0])


def timestamps_from_text(parts: list[Part]) -> list[float] | None:
    """Frame timestamps written as text next to the frames, or None when not every frame has one.

    Two layouts are read. Labels: the text between two frames is a label (at most 48
    characters holding a number, never a "Frame 3:" number). It belongs either to the
    frame after it or to the frame before it; the side is decided by the outer frames:
    the first frame must then have a label of the same width right before it, or the
    last frame one right after it. A list: no text between frames and a sentence before
    them ending "at 0.0, 0.5, 1.0 seconds" with one time per frame. Values must be
    non-negative and strictly increasing.
    """
    segments: list[str] = [""]  # text before frame 0, between frames, after the last
    for part in parts:
        if isinstance(part, ImagePart):
            segments.append("")
        else:
            segments[-1] += part.text
    n = len(segments) - 1
    if n == 0:
        return None
    inner = segments[1:-1]
    if any(len(text) > _LABEL_CHARS or "frame" in text.lower() for text in inner):
        return None  # not labels, or frame numbers ("Frame 3:") rather than seconds
    if not any(text.strip() for text in inner):
        listed = _LISTED.search(segments[0])  # "... at 0.0, 0.5, 1.0 seconds." before the frames
        if listed:
            values = [float(v) for v in _NUMBER.findall(listed.group(1))]
            if len(values) == n and all(
                b > a for a, b in zip(values[:-1], values[1:], strict=True)
            ):
                return values
        if n > 1:
            return None
    width = max((len(text.strip()) for text in inner), default=12) + 2
    candidates: tuple[list[float | None], ...] = (
        [_label(segments[i], width, last=True) for i in range(n)],
        [_label(segments[i + 1], width, last=False) for i in range(n)],
    )
    for found in candidates:
        if all(v is not None for v in found):
            stamps = [float(v) for v in found if v is not None]
            if stamps[0] >= 0 and all(b > a for a, b in zip(stamps[:-1], stamps[1:], strict=True)):
                return stamps
    return None


def _parts(messages: Any) -> list[tuple[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise ChatRequestError("'messages' must be a non-empty list")
    items: list[tuple[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise ChatRequestError("each message must be an object")
        role = message.get("role")
        if role not in ("system", "developer", "user"):
            raise ChatRequestError(f"message role {role!r} is not supported (one user turn)")
        content = message.get("content")
        if isinstance(content, str):
            items.append(("text", content))
        elif isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    items.append(("text", str(part.get("text", ""))))
                elif kind == "image_url":
                    image_url = part.get("image_url")
                    url = image_url.get("url") if isinstance(image_url, dict) else image_url
                    if not isinstance(url, str):
                        raise ChatRequestError("image_url part without a url")
                    items.append(("image", url))
                else:
                    raise ChatRequestError(f"content part type {kind!r} is not supported")
        else:
            raise ChatRequestError("message content must be a string or a list of parts")
    return items


def _generation(body: dict[str, Any]) -> GenerationConfig:
    fields: dict[str, Any] = {}
    names = {"temperature": "temperature", "top_p": "top_p", "seed": "seed"}
    for name in names:
        if body.get(name) is not None:
            fields[name] = body[name]
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            fields["max_new_tokens"] = body[key]
            names["max_new_tokens"] = key
            break
    try:
        return GenerationConfig(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = names.get(str(first["loc"][0]), str(first["loc"][0]))
        raise ChatRequestError(f"{field}: {first['msg']}") from None


def request_from_chat(body: Any, *, fps: float = 2.0, request_id: str = "") -> GroundingRequest:
    """Translate a Chat Completions body into a grounding request (see the module docstring)."""
    if not isinstance(body, dict):
        raise ChatRequestError("the request body must be a JSON object")
    if body.get("stream"):
        raise ChatRequestError("stream=true is not supported")
    if body.get("n", 1) != 1:
        raise ChatRequestError("only n=1 is supported")
    meta = body.get("timelens") or {}
    if not isinstance(meta, dict):
        raise ChatRequestError("'timelens' must be an object")

    parts: list[Part] = []
    images = 0
    for kind, value in _parts(body.get("messages")):
        if kind == "text":
            if value:
                parts.append(TextPart(value))
        else:
            parts.append(ImagePart(_decode_image(value), timestamp=0.0, index=images))
            images += 1

    stamps: list[float] | None = None
    encoding = "index"
    if isinstance(meta.get("timestamps"), list) and len(meta["timestamps"]) == images:
        stamps, encoding = [float(t) for t in meta["timestamps"]], "metadata"
    elif images:
        stamps = timestamps_from_text(parts)
        encoding = "text" if stamps is not None else "index"
    if stamps is None:
        stamps = [i / fps for i in range(images)]
    frames = iter(stamps)
    parts = [
        ImagePart(p.image, timestamp=next(frames), index=p.index) if isinstance(p, ImagePart) else p
        for p in parts
    ]

    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    if meta.get("duration") is not None:
        duration = float(meta["duration"])
    elif stamps:
        step = float(np.median(np.diff(stamps))) if len(stamps) > 1 else 1.0 / fps
        duration = stamps[-1] + step
    else:
        duration = 0.0
    if not math.isfinite(duration) or duration < 0:
        raise ChatRequestError("timelens.duration must be a non-negative number")
    message = PromptMessage(
        parts=tuple(parts),
        template="chat",
        template_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        encoding=encoding,
    )
    clip = meta.get("clip")
    if clip is not None:
        if not (isinstance(clip, list) and len(clip) == 2):
            raise ChatRequestError("timelens.clip must be [start, end]")
        clip = Span(float(clip[0]), float(clip[1]))
    return GroundingRequest(
        sample_id=str(meta.get("sample_id") or request_id),
        query=str(meta.get("query") or text.strip()),
        duration=duration,
        video_path=None,
        message=message,
        generation=_generation(body),
        clip=clip,
    )


def completion_body(text: str, usage: Any, *, model: str, request_id: str) -> dict[str, Any]:
    """A ``chat.completion`` object for one answer (``usage`` may be None: left out)."""
    body: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
    return body


def _error(
    status: int,
    message: str,
    kind: str,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
) -> Any:
    from starlette.responses import JSONResponse

    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def served_model_id(model: str) -> str:
    """The id clients address a model by: its name, or for a local checkpoint (a path
    that exists) the checkpoint folder's name, never a path of the serving machine."""
    path = Path(model).expanduser()
    if model and path.exists():
        return path.resolve().name or model
    return model


def create_app(
    adapter: Adapter,
    *,
    model_name: str | None = None,
    api_key: str | None = None,
    fps: float = 2.0,
) -> Any:
    """A Starlette app serving ``adapter``; ``api_key`` (if set) is required as a Bearer token.

    The model id is ``model_name``, else :func:`served_model_id` of the adapter's model; a
    request that names another model is answered 404 (``model_not_found``), as OpenAI's
    API does. The adapter is closed when the app shuts down.
    """
    _require_stack()
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from timelens_eval.runner.guards import InvalidOutput, checked_output

    served = model_name or served_model_id(adapter.model)
    secrets = sorted(
        {s for s in [*adapter.secret_values(), api_key or ""] if s}, key=len, reverse=True
    )

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    expected = f"Bearer {api_key}".encode() if api_key else None

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    async def models(request: Request) -> Any:
        if not authorized(request):
            return _error(401, "invalid API key", "authentication_error")
        card = {"id": served, "object": "model", "created": 0, "owned_by": "timelens-eval"}
        return JSONResponse({"object": "list", "data": [card]})

    async def chat(request: Request) -> Any:
        if not authorized(request):
            return _error(401, "invalid API key", "authentication_error")
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the request body is not valid JSON", "invalid_request_error")
        asked = body.get("model") if isinstance(body, dict) else None
        if asked is not None and asked != served:
            return _error(
                404,
                f"the model {str(asked)[:200]!r} does not exist; this server serves {served!r}",
                "invalid_request_error",
                code="model_not_found",
            )
        try:
            grounding = await asyncio.to_thread(
                request_from_chat, body, fps=fps, request_id=request_id
            )
        except ChatRequestError as exc:
            return _error(400, str(exc), "invalid_request_error")
        try:
            output = checked_output(await adapter.ground(grounding))
        except InvalidOutput as exc:
            return _error(
                500,
                scrub(f"adapter output is invalid: {exc}"),
                "server_error",
                {"x-should-retry": "false"},
            )
        except AdapterError as exc:
            if exc.retryable:
                headers = {}
                if exc.retry_after is not None and math.isfinite(exc.retry_after):
                    headers["retry-after"] = str(max(0, math.ceil(exc.retry_after)))
                    headers["retry-after-ms"] = str(max(0, int(exc.retry_after * 1000)))
                return _error(503, scrub(f"adapter error: {exc}"), "server_error", headers)
            return _error(
                500, scrub(f"adapter error: {exc}"), "server_error", {"x-should-retry": "false"}
            )
        except Exception as exc:  # an adapter bug: answer, log, keep serving
            log.exception("adapter %s failed on %s", adapter.name, grounding.sample_id)
            return _error(
                500,
                f"adapter failed ({type(exc).__name__})",
                "server_error",
                {"x-should-retry": "false"},
            )
        return JSONResponse(
            completion_body(scrub(output.text), output.usage, model=served, request_id=request_id)
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await adapter.aclose()

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def run_server(app: Any, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` with uvicorn until interrupted."""
    _require_stack()
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info")


@dataclass
class ServerThread:
    """Serve an app on ``host`` in a background thread (port 0 picks a free port).

    Use as a context manager; :attr:`base_url` is the ``/v1`` root for OpenAI clients.
    """

    app: Any
    host: str = "127.0.0.1"
    port: int = 0

    def __enter__(self) -> ServerThread:
        _require_stack()
        import uvicorn

        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
