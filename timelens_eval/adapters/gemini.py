"""The ``gemini`` adapter: Google's Gemini models through the ``google-genai`` client.

Two modes (``mode=``):

``upload`` (default)
    The video file goes to the Files API once (resumable upload; the client waits until
    the file is ``ACTIVE``), and each request is one user turn of two parts: the file
    (``fileData``) with ``videoMetadata`` -- ``fps`` (``video_fps``, default 2, the
    protocol's rate) and, for a clip, ``startOffset``/``endOffset`` in seconds -- then
    the instruction text of ``template`` (default: the TimeLens prompt). Gemini samples
    the video itself, so the runner decodes nothing. Uploads are cached by the SHA-256
    of the file's bytes in ``cache_dir/gemini-files.json``: a video is uploaded once per
    API key and reused (after a cheap ``files.get`` check) until the Files API expires it.
``frames``
    The runner's sampled frames go inline (``inlineData``, JPEG), in the prompt message's
    order, so the textual timestamps of the chosen encoding (default ``interleaved``:
    ``"0.0s"`` before each frame) sit between them; then the instruction text.

Both modes send ``temperature``, ``topP``, ``maxOutputTokens`` and ``seed`` from the
run's generation config (greedy: temperature 0), and an optional ``thinking_budget``.

Retries happen here (the client is built without its own): HTTP 408, 429 and 5xx,
timeouts and dropped connections are retried up to ``max_retries`` times, waiting out a
``Retry-After`` header of at most ``max_retry_after`` seconds (a longer one is handed to
the runner) or ``backoff * 2**k`` seconds (capped at ``max_backoff``, jitter inside the
cap); other errors fail at once. A failure that persists becomes an ``AdapterError``.

Usage is ``promptTokenCount`` in and ``candidatesTokenCount + thoughtsTokenCount`` out
(thinking tokens are billed as output); cost uses :data:`GEMINI_PRICES` or
``price_input``/``price_output``. The API key comes from ``GEMINI_API_KEY`` (or
``GOOGLE_API_KEY``, or the variable named by ``api_key_env``) and is never logged or
stored. ``base_url`` points the client at another endpoint (a proxy, or a local stand-in
in tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GroundingOutput,
    GroundingRequest,
    Usage,
)
from timelens_eval.adapters.common import (
    AttemptFailure,
    encode_image,
    validate_config,
    with_retries,
)
from timelens_eval.adapters.pricing import Price, cost_usd
from timelens_eval.errors import ConfigError, MissingDependencyError
from timelens_eval.messages import ImagePart, PromptMessage
from timelens_eval.video.types import FrameSpec

__all__ = ["GEMINI_PRICES", "GeminiAdapter", "GeminiConfig", "UploadCache", "file_sha256"]

log = logging.getLogger("timelens_eval.adapters.gemini")

# USD per 1M tokens (input, output), standard tier, prompts up to 200k tokens, from
# Google's published Gemini API list prices (2025). Prices change: pass
# price_input/price_output to override; unknown models get cost None.
GEMINI_PRICES: dict[str, Price] = {
    "gemini-2.5-pro": Price(1.25, 10.00),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gemini-2.5-flash-lite": Price(0.10, 0.40),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
}

_RETRY_STATUS = frozenset({408, 429})
_FILE_LIFETIME = timedelta(hours=47)  # the Files API keeps files 48 h


class GeminiConfig(BaseModel):
    """The ``--adapter-args`` of the ``gemini`` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Model name, e.g. 'gemini-2.5-pro'.")
    mode: Literal["upload", "frames"] = "upload"
    base_url: str | None = None
    api_version: str = "v1beta"
    api_key_env: str | None = Field(None, description="Variable holding the key.")
    template: str = Field("timelens", description="Prompt template of upload mode.")
    video_fps: float | None = Field(2.0, gt=0, description="fps in videoMetadata (upload).")
    thinking_budget: int | None = Field(None, ge=-1)
    timeout: float = Field(120.0, gt=0, description="Seconds before one call times out.")
    max_retries: int = Field(4, ge=0)
    backoff: float = Field(1.0, ge=0)
    max_backoff: float = Field(30.0, ge=0)
    max_retry_after: float = Field(120.0, ge=0)
    upload_poll: float = Field(2.0, ge=0, description="Seconds between file-state checks.")
    upload_timeout: float = Field(600.0, gt=0, description="Longest wait for ACTIVE.")
    cache_dir: str | None = Field(None, description="Where the upload cache lives.")
    jpeg_quality: int = Field(90, ge=1, le=100)
    price_input: float | None = Field(None, ge=0)
    price_output: float | None = Field(None, ge=0)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class UploadCache:
    """Uploaded files by content hash, in one JSON file, keyed per API key and endpoint."""

    def __init__(self, path: Path, scope: str) -> None:
        self.path = path
        self.scope = scope

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, digest: str) -> dict[str, Any] | None:
        """The live entry for ``digest``, or None (missing or expired)."""
        entry = self._load().get(self.scope, {}).get(digest)
        if not isinstance(entry, dict):
            return None
        try:
            expires = datetime.fromisoformat(entry["expires"])
        except (KeyError, TypeError, ValueError):
            return None
        return entry if expires > datetime.now(timezone.utc) else None

    def put(
        self, digest: str, name: str, uri: str, mime_type: str, expires: datetime | None = None
    ) -> None:
        """Remember an uploaded file until ``expires`` (default: 47 h), written atomically."""
        data = self._load()
        limit = datetime.now(timezone.utc) + _FILE_LIFETIME
        if expires is not None and expires.tzinfo is not None:
            limit = min(limit, expires - timedelta(minutes=10))
        expires = limit
        data.setdefault(self.scope, {})[digest] = {
            "name": name,
            "uri": uri,
            "mime_type": mime_type,
            "expires": expires.isoformat(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def drop(self, digest: str) -> None:
        """Forget ``digest`` (its file is gone)."""
        data = self._load()
        if data.get(self.scope, {}).pop(digest, None) is not None:
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            tmp.replace(self.path)


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"


class GeminiAdapter(Adapter):
    """Gemini through google-genai: the uploaded video, or sampled frames inline."""

    name = "gemini"
    config_model = GeminiConfig
    model_type = "proprietary"
    requires = ("google-genai",)
    default_encoding = "interleaved"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if "api_key" in kwargs:
            raise ConfigError(
                "gemini adapter: pass the API key through the environment (GEMINI_API_KEY), "
                "not as an argument"
            )
        self.config = validate_config(GeminiConfig, kwargs, "gemini")
        try:
            from google import genai
            from google.genai import errors, types
        except ImportError:
            raise MissingDependencyError("the gemini adapter", "gemini", "google-genai") from None
        config = self.config
        from timelens_eval.prompts import get_template

        self._template = get_template(config.template)
        self.needs_frames = config.mode == "frames"  # type: ignore[misc]
        if config.mode == "frames":
            self.default_frames = FrameSpec(fps=config.video_fps or 2.0)  # type: ignore[misc]
        names = [config.api_key_env] if config.api_key_env else ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
        key = next((os.environ[n] for n in names if os.environ.get(n)), "")
        if not key:
            raise ConfigError(f"gemini adapter: no API key: set {' or '.join(names)}")
        self._secret = key
        self._types, self._errors = types, errors
        options = types.HttpOptions(
            api_version=config.api_version,
            base_url=config.base_url,
            timeout=int(config.timeout * 1000),
        )
        self._client = genai.Client(api_key=key, http_options=options)
        if config.price_input is not None or config.price_output is not None:
            self._price: Price | None = Price(config.price_input or 0.0, config.price_output or 0.0)
        else:
            self._price = GEMINI_PRICES.get(config.model) if config.base_url is None else None
        scope = hashlib.sha256(f"{config.base_url}|{key}".encode()).hexdigest()[:16]
        root = Path(config.cache_dir) if config.cache_dir else _default_cache_dir()
        self.uploads = UploadCache(root / "gemini-files.json", scope)
        self._upload_locks: dict[str, asyncio.Lock] = {}
        self.uploaded = 0
        """Files uploaded by this adapter (cache misses)."""

    def __repr__(self) -> str:
        return f"GeminiAdapter(model={self.config.model!r}, mode={self.config.mode!r})"

    def secret_values(self) -> list[str]:
        """The API key in use, besides any secret arguments."""
        return super().secret_values() + ([self._secret] if self._secret else [])

    def describe(self) -> dict[str, Any]:
        """Arguments for the result file, plus the settings upload mode applies itself.

        In upload mode the runner builds no prompt, so the template and its hash, and
        the video sampling rate Gemini is asked for, are recorded here.
        """
        out = super().describe()
        if self.config.mode == "upload":
            out.update(
                mode="upload",
                template=self._template.name,
                template_hash=self._template.hash,
                video_fps=self.config.video_fps,
            )
        return out

    # -- errors and retries ---------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        text = " ".join(text.replace(self._secret, "***").split())
        return text if len(text) <= 300 else text[:297] + "..."

    def _classify(self, exc: Exception) -> AttemptFailure:
        import httpx

        from timelens_eval.adapters.openai_chat import retry_after_seconds

        if isinstance(exc, self._errors.APIError):
            code = int(exc.code or 0)
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return AttemptFailure(
                self._scrub(f"HTTP {code}: {exc.message or exc.status or ''}"),
                retryable=code in _RETRY_STATUS or code >= 500,
                retry_after=retry_after_seconds(headers),
            )
        if isinstance(exc, httpx.TimeoutException):
            return AttemptFailure(f"timed out after {self.config.timeout:g}s", retryable=True)
        if isinstance(exc, httpx.TransportError):
            return AttemptFailure(f"connection failed ({type(exc).__name__})", retryable=True)
        return AttemptFailure(self._scrub(f"{type(exc).__name__}: {exc}"), retryable=False)

    async def _retrying(self, what: str, sample: str, call: Any) -> Any:
        return await with_retries(
            call,
            what=f"gemini {what}",
            sample=sample,
            settings=self.config,
            log=log,
            classify=self._classify,
        )

    # -- Files API --------------------------------------------------------------------------

    async def _wait_active(self, name: str, sample: str) -> Any:
        config = self.config
        deadline = time.monotonic() + config.upload_timeout
        while True:
            file, _ = await self._retrying(
                "file check", sample, lambda: self._client.aio.files.get(name=name)
            )
            state = str(getattr(file.state, "value", file.state) or "")
            if state == "ACTIVE":
                return file
            if state == "FAILED":
                raise AdapterError(f"gemini: processing of {name} failed", retryable=False)
            if time.monotonic() > deadline:
                raise AdapterError(f"gemini: {name} not ACTIVE after {config.upload_timeout:g}s")
            await asyncio.sleep(config.upload_poll)

    async def video_file(self, path: Path, sample: str) -> tuple[str, str]:
        """``(uri, mime_type)`` of ``path`` on the Files API, uploading it at most once."""
        digest = await asyncio.to_thread(file_sha256, path)
        lock = self._upload_locks.setdefault(digest, asyncio.Lock())
        async with lock:
            entry = self.uploads.get(digest)
            if entry is not None:
                try:
                    await self._wait_active(entry["name"], sample)
                    return entry["uri"], entry["mime_type"]
                except AdapterError:
                    self.uploads.drop(digest)  # gone or broken: upload again
            mime = mimetypes.guess_type(path.name)[0] or "video/mp4"
            upload_config: Any = {"mime_type": mime, "display_name": f"{digest[:16]}-{path.name}"}
            file, _ = await self._retrying(
                "upload",
                sample,
                lambda: self._client.aio.files.upload(file=str(path), config=upload_config),
            )
            self.uploaded += 1
            file = await self._wait_active(file.name, sample)
            self.uploads.put(
                digest, file.name, file.uri, file.mime_type or mime, file.expiration_time
            )
            return file.uri, file.mime_type or mime

    # -- requests ---------------------------------------------------------------------------

    def frame_parts(self, message: PromptMessage) -> list[Any]:
        """Inline parts of ``message`` in order: text, and each frame as a JPEG."""
        types = self._types
        parts = []
        for part in message.parts:
            if isinstance(part, ImagePart):
                data = encode_image(part.image, "jpeg", self.config.jpeg_quality)
                parts.append(types.Part.from_bytes(data=data, mime_type="image/jpeg"))
            elif part.text:
                parts.append(types.Part(text=part.text))
        return parts

    def video_parts(self, uri: str, mime: str, request: GroundingRequest) -> list[Any]:
        """The file part with its video metadata (fps, clip offsets), then the instruction."""
        types = self._types
        metadata: dict[str, Any] = {}
        if self.config.video_fps is not None:
            metadata["fps"] = self.config.video_fps
        if request.clip is not None:
            metadata["start_offset"] = _seconds(request.clip[0])
            metadata["end_offset"] = _seconds(request.clip[1])
        video = types.Part(
            file_data=types.FileData(file_uri=uri, mime_type=mime),
            video_metadata=types.VideoMetadata(**metadata) if metadata else None,
        )
        return [video, types.Part(text=self._template.render(request.query))]

    def generation_config(self, request: GroundingRequest) -> Any:
        """Decoding settings of one call."""
        types, generation = self._types, request.generation
        options: dict[str, Any] = {
            "temperature": generation.temperature,
            "top_p": generation.top_p,
            "max_output_tokens": generation.max_new_tokens,
        }
        if generation.seed is not None:
            options["seed"] = generation.seed
        if self.config.thinking_budget is not None:
            options["thinking_config"] = types.ThinkingConfig(
                thinking_budget=self.config.thinking_budget
            )
        return types.GenerateContentConfig(**options)

    async def ground(self, request: GroundingRequest) -> GroundingOutput:
        """Upload (once) or inline the video, call generateContent, and price the call."""
        if self.config.mode == "upload":
            if request.video_path is None:
                raise AdapterError("gemini upload mode needs the video file", retryable=False)
            uri, mime = await self.video_file(Path(request.video_path), request.sample_id)
            parts = self.video_parts(uri, mime, request)
        else:
            if request.message is None:
                raise AdapterError("gemini frames mode needs a prompt message", retryable=False)
            parts = await asyncio.to_thread(self.frame_parts, request.message)
        contents = [self._types.Content(role="user", parts=parts)]
        options = self.generation_config(request)
        start = time.perf_counter()
        response, attempts = await self._retrying(
            "generateContent",
            request.sample_id,
            lambda: self._client.aio.models.generate_content(
                model=self.config.model, contents=contents, config=options
            ),
        )
        latency = time.perf_counter() - start
        text = ""
        finish = None
        if response.candidates:
            candidate = response.candidates[0]
            finish = str(getattr(candidate.finish_reason, "value", candidate.finish_reason))
            content_parts = (candidate.content.parts or []) if candidate.content else []
            text = "".join(p.text for p in content_parts if p.text and not p.thought)
        usage = None
        meta = response.usage_metadata
        if meta is not None:
            usage = Usage(
                input_tokens=int(meta.prompt_token_count or 0),
                output_tokens=int(meta.candidates_token_count or 0)
                + int(meta.thoughts_token_count or 0),
            )
        cost = cost_usd(self._price, usage.input_tokens, usage.output_tokens) if usage else None
        blocked = getattr(getattr(response, "prompt_feedback", None), "block_reason", None)
        raw = {
            "finish_reason": finish,
            "attempts": attempts,
            "blocked": str(blocked) if blocked else None,
        }
        return GroundingOutput(text=text, usage=usage, latency_s=latency, cost_usd=cost, raw=raw)

    async def aclose(self) -> None:
        """Close the client's HTTP sessions."""
        aclose = getattr(self._client.aio, "aclose", None)
        if aclose is not None:
            await aclose()


def _default_cache_dir() -> Path:
    root = os.environ.get("TIMELENS_EVAL_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "timelens-eval"
