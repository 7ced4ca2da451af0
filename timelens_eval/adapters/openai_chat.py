"""The ``openai`` adapter: Chat Completions with video frames as images, or as videos.

One request is one user turn whose content parts follow the prompt message in order:
each :class:`~timelens_eval.messages.TextPart` becomes a ``text`` part and each frame a
base64 ``image_url`` part, so textual timestamps sit between the frames exactly where
the chosen timestamp encoding put them. ``base_url`` points the adapter at any
OpenAI-compatible server (``vllm serve``, ``timelens-eval serve``).

With ``frames_as=video`` (for ``vllm serve`` of a Qwen-VL family model) every run of
frames between two text parts becomes one ``video_url`` part instead: a
``data:video/jpeg;base64,...`` URL of the frames, which vLLM reads frame by frame (PNG by
default, so the pixels arrive unchanged), and the body carries the processor options of
the in-process ``vllm`` adapter (``mm_processor_kwargs``: ``do_resize=False``,
``do_sample_frames=False``, and Qwen2.5-VL's ``fps``). The model family's preset
(``preset``, default from the model name) then sets the frames, template and encoding,
as for the ``vllm`` adapter. vLLM's API carries no video metadata, so a Qwen3-VL model
served this way sees ``<t seconds>`` computed from the processor's default rate, not the
frames' true times: use the ``vllm`` adapter for Qwen3-VL and TimeLens-8B.

Retries are done here, not by the client library (it is built with ``max_retries=0``):
429, 408, 409 and 5xx answers, timeouts, dropped connections and malformed responses are
retried up to ``max_retries`` times. A ``Retry-After`` (or ``retry-after-ms``) header is
waited out exactly; otherwise the wait is ``backoff * 2**k`` seconds capped at
``max_backoff``, spread by up to 25% inside that cap. A failure that persists becomes an
:class:`~timelens_eval.adapters.AdapterError` with ``retryable=False`` (the budget is
spent); with ``max_retries=0`` the adapter makes one attempt and hands transient
failures to the runner as ``retryable=True`` with their ``retry_after``. A
``Retry-After`` longer than ``max_retry_after`` is not waited out here either: it is
handed to the runner the same way (which waits it only up to its own cap). A reply
whose content is a list of parts is read as their joined text; content that is not text
at all (a number, an object) is a malformed response.

The API key is read from the environment (``OPENAI_API_KEY`` or the variable named by
``api_key_env``); it is never logged, stored in results or shown in error messages.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import math
import os
import time
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GroundingOutput,
    GroundingRequest,
    ModelType,
    Usage,
)
from timelens_eval.adapters.common import (
    AttemptFailure,
    encode_image,
    validate_config,
    with_retries,
)
from timelens_eval.adapters.pricing import Price, cost_usd, price_for
from timelens_eval.errors import ConfigError, MissingDependencyError
from timelens_eval.messages import ImagePart, PromptMessage

__all__ = ["OpenAIAdapter", "OpenAIConfig", "content_text", "message_content", "video_content"]

log = logging.getLogger("timelens_eval.adapters.openai")

_RETRY_STATUS = frozenset({408, 409, 429})
_OPENAI_HOSTS = frozenset({"api.openai.com"})


class OpenAIConfig(BaseModel):
    """The ``--adapter-args`` of the ``openai`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Model name sent with every request, e.g. 'gpt-4o'.")
    base_url: str | None = Field(
        None, description="An OpenAI-compatible server, e.g. 'http://127.0.0.1:8000/v1'."
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable of the key.")
    timeout: float = Field(60.0, gt=0, description="Seconds before one attempt times out.")
    max_retries: int = Field(4, ge=0, description="Retries after the first attempt.")
    backoff: float = Field(1.0, ge=0, description="First wait (s) without Retry-After.")
    max_backoff: float = Field(30.0, ge=0, description="Cap on one backoff wait (s).")
    max_retry_after: float = Field(
        120.0, ge=0, description="Longest Retry-After (s) waited out here."
    )
    image_format: Literal["jpeg", "png"] = "jpeg"
    jpeg_quality: int = Field(90, ge=1, le=100)
    detail: Literal["auto", "low", "high"] | None = Field(
        None, description="OpenAI image detail level; left out when None."
    )
    frames_as: Literal["images", "video"] = Field(
        "images",
        description="'video': each run of frames as one video_url part with vLLM processor "
        "options (vllm serve of a Qwen-VL model); 'images': one image_url per frame.",
    )
    preset: str | None = Field(
        None, description="Qwen-VL preset for frames_as=video (default: from the model name)."
    )
    video_frame_format: Literal["png", "jpeg"] = Field(
        "png", description="Encoding of each frame inside a video_url (png: lossless)."
    )
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="Name of the output-length parameter the server expects."
    )
    send_metadata: bool = Field(
        False,
        description="Send sample id, query, duration and frame timestamps in a 'timelens' "
        "body field (for timelens-eval serve; api.openai.com rejects it).",
    )
    price_input: float | None = Field(None, ge=0, description="USD per 1M input tokens.")
    price_output: float | None = Field(None, ge=0, description="USD per 1M output tokens.")
    model_type: ModelType = "proprietary"


def _encode_image(image: Any, fmt: str, quality: int) -> str:
    data = base64.b64encode(encode_image(image, fmt, quality)).decode("ascii")
    return f"data:image/{fmt};base64,{data}"


def message_content(
    message: PromptMessage,
    *,
    image_format: str = "jpeg",
    jpeg_quality: int = 90,
    detail: str | None = None,
) -> list[dict[str, Any]]:
    """The Chat Completions content parts of ``message``, in the message's order."""
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            image_url: dict[str, Any] = {
                "url": _encode_image(part.image, image_format, jpeg_quality)
            }
            if detail is not None:
                image_url["detail"] = detail
            content.append({"type": "image_url", "image_url": image_url})
        elif part.text:
            content.append({"type": "text", "text": part.text})
    return content


def video_content(message: PromptMessage, *, frame_format: str = "png") -> list[dict[str, Any]]:
    """Content parts of ``message`` with every run of frames as one ``video_url`` part.

    The URL is ``data:video/jpeg;base64,F1,F2,...``: vLLM's media type for a video given
    as its frames; each ``Fi`` is one base64 image (PNG or JPEG, which vLLM's image reader
    both decode).
    """
    content: list[dict[str, Any]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            url = "data:video/jpeg;base64," + ",".join(run)
            content.append({"type": "video_url", "video_url": {"url": url}})
            run.clear()

    for part in message.parts:
        if isinstance(part, ImagePart):
            run.append(base64.b64encode(encode_image(part.image, frame_format, 95)).decode())
        elif part.text:
            flush()
            content.append({"type": "text", "text": part.text})
    flush()
    return content


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def content_text(content: Any) -> str:
    """The answer text of a reply's ``message.content``: a string, or the ``text`` of a
    list of content parts (joined); ``None`` is an empty answer. Anything else (a number,
    an object) is a malformed response."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            text = part.get("text") if isinstance(part, dict) else getattr(part, "text", None)
            if not isinstance(text, str):
                raise AttemptFailure(
                    "malformed response (a content part without text)", retryable=True
                )
            texts.append(text)
        return "".join(texts)
    raise AttemptFailure(
        f"malformed response (content is {type(content).__name__}, not text)", retryable=True
    )


class OpenAIAdapter(Adapter):
    """Chat Completions (OpenAI or any compatible server) with frames as images."""

    name = "openai"
    config_model = OpenAIConfig
    model_type = "proprietary"
    secret_args = frozenset({"api_key"})
    requires = ("openai",)
    """Packages whose versions the result file records."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if "api_key" in kwargs:
            raise ConfigError(
                "openai adapter: pass the API key through the environment "
                "(OPENAI_API_KEY, or name another variable with api_key_env=...), "
                "not as an argument"
            )
        self.config = validate_config(OpenAIConfig, kwargs, "openai")
        try:
            import openai
        except ImportError:
            raise MissingDependencyError("the openai adapter", "openai", "openai") from None

        config = self.config
        self.model_type = config.model_type  # type: ignore[misc,assignment]
        key = os.environ.get(config.api_key_env, "")
        if not key:
            if config.base_url is None:
                raise ConfigError(
                    f"openai adapter: no API key: set the environment variable "
                    f"{config.api_key_env} (or name another one with api_key_env=...)"
                )
            key = "none"  # a local server without authentication
        self._secret = key
        self._price = self._pick_price(config)
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=0,
        )
        self._openai = openai
        self.preset = None
        if config.frames_as == "video":
            from timelens_eval.adapters.presets import resolve_preset

            self.preset = resolve_preset(config.model, config.preset)
            if self.preset.vision == "images":  # pragma: no cover - no such preset today
                raise ConfigError("openai adapter: frames_as=video needs a video preset")
            self.default_frames = self.preset.frames  # type: ignore[misc]
            self.default_template = self.preset.template  # type: ignore[misc]
            self.default_encoding = self.preset.encoding  # type: ignore[misc]
            if self.preset.family == "qwen3-vl":
                log.warning(
                    "openai adapter, frames_as=video, %s: vLLM's API carries no video "
                    "metadata, so the served model's <t seconds> are not the frames' true "
                    "times; the vllm adapter gives the official input",
                    self.preset.name,
                )
        elif config.preset is not None:
            raise ConfigError("openai adapter: preset= is only used with frames_as=video")

    def __repr__(self) -> str:
        return f"OpenAIAdapter(model={self.config.model!r}, base_url={self.config.base_url!r})"

    def secret_values(self) -> list[str]:
        """The API key in use, besides any secret arguments."""
        held = self._secret if self._secret != "none" else ""  # "none": a local server
        return super().secret_values() + ([held] if held else [])

    @staticmethod
    def _pick_price(config: OpenAIConfig) -> Price | None:
        if config.price_input is not None or config.price_output is not None:
            return Price(config.price_input or 0.0, config.price_output or 0.0)
        host = urlparse(config.base_url).hostname if config.base_url else "api.openai.com"
        return price_for(config.model) if host in _OPENAI_HOSTS else None

    def _scrub(self, text: str) -> str:
        """``text`` with the API key (should a server echo it) replaced, and shortened."""
        if self._secret and self._secret != "none":
            text = text.replace(self._secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= 300 else text[:297] + "..."

    def _params(self, request: GroundingRequest, content: list[dict[str, Any]]) -> dict[str, Any]:
        config, generation = self.config, request.generation
        params: dict[str, Any] = {
            "model": config.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": generation.temperature,
            "top_p": generation.top_p,
            config.max_tokens_param: generation.max_new_tokens,
        }
        if generation.seed is not None:
            params["seed"] = generation.seed
        extra: dict[str, Any] = {}
        if self.preset is not None and request.message is not None:
            from timelens_eval.adapters.presets import build_qwen_inputs, vllm_multimodal

            inputs = build_qwen_inputs(request.message, self.preset, self.preset.vision)
            extra["mm_processor_kwargs"] = vllm_multimodal(inputs, self.preset)[
                "mm_processor_kwargs"
            ]
        if config.send_metadata:
            message = request.message
            extra["timelens"] = {
                "sample_id": request.sample_id,
                "query": request.query,
                "duration": request.duration,
                "timestamps": message.timestamps.tolist() if message else [],
                "clip": list(request.clip) if request.clip is not None else None,
            }
        if extra:
            params["extra_body"] = extra
        return params

    def _classify(self, exc: Exception) -> AttemptFailure:
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError):
            return AttemptFailure(f"timed out after {self.config.timeout:g}s", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return AttemptFailure(f"connection failed ({type(cause).__name__})", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            should = headers.get("x-should-retry")
            retryable = status in _RETRY_STATUS or status >= 500
            if should in ("true", "false"):
                retryable = should == "true"
            detail = self._scrub(str(getattr(exc, "message", "") or ""))
            return AttemptFailure(
                f"HTTP {status}: {detail}",
                retryable=retryable,
                retry_after=retry_after_seconds(headers),
            )
        if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
            return AttemptFailure(f"malformed response ({type(exc).__name__})", retryable=True)
        return AttemptFailure(self._scrub(f"{type(exc).__name__}: {exc}"), retryable=False)

    async def _attempt(self, params: dict[str, Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(**params)
        except self._openai.OpenAIError as exc:
            raise self._classify(exc) from None
        except ValueError as exc:  # a body that is not JSON
            raise self._classify(exc) from None
        latency = time.perf_counter() - start
        choices = getattr(response, "choices", None)
        if (
            not isinstance(choices, list)
            or not choices
            or getattr(choices[0], "message", None) is None
        ):
            raise AttemptFailure("malformed response (no choices)", retryable=True)
        content_text(choices[0].message.content)  # a reply without text is retried
        return response, latency

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Send one request, retrying transient failures as the module docstring says."""
        if request.message is None:
            raise AdapterError("openai adapter needs a prompt message with frames", retryable=False)
        config = self.config
        if config.frames_as == "video":
            content = await asyncio.to_thread(
                video_content, request.message, frame_format=config.video_frame_format
            )
        else:
            content = await asyncio.to_thread(
                message_content,
                request.message,
                image_format=config.image_format,
                jpeg_quality=config.jpeg_quality,
                detail=config.detail,
            )
        params = self._params(request, content)
        (response, latency), attempts = await with_retries(
            lambda: self._attempt(params),
            what="openai request",
            sample=request.sample_id,
            settings=config,
            log=log,
        )
        choice = response.choices[0]
        text = content_text(choice.message.content)
        usage = None
        if response.usage is not None:
            usage = Usage(
                input_tokens=int(response.usage.prompt_tokens or 0),
                output_tokens=int(response.usage.completion_tokens or 0),
            )
        cost = cost_usd(self._price, usage.input_tokens, usage.output_tokens) if usage else None
        raw = {
            "id": getattr(response, "id", None),
            "model": getattr(response, "model", None),
            "finish_reason": getattr(choice, "finish_reason", None),
            "attempts": attempts,
        }
        return GroundingOutput(text=text, usage=usage, latency_s=latency, cost_usd=cost, raw=raw)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
