"""The ``gemini`` adapter with the real google-genai client against a local HTTP endpoint.

The endpoint below is a protocol stand-in, not Gemini: a small server on 127.0.0.1 that
speaks the REST protocol the client uses -- ``models/{model}:generateContent``, the
resumable Files API upload (``upload/v1beta/files`` start, then ``upload, finalize``) and
``files/{id}`` state checks -- and answers from what it received, so the tests can check
exactly what the adapter sent. Faults (HTTP errors, ``Retry-After``) are scripted.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("google.genai")

from timelens_eval.adapters import AdapterError, GenerationConfig, GroundingRequest  # noqa: E402
from timelens_eval.adapters.gemini import GeminiAdapter  # noqa: E402
from timelens_eval.errors import ConfigError, MissingDependencyError  # noqa: E402
from timelens_eval.parsing import parse_spans  # noqa: E402
from timelens_eval.prompts import TIMELENS_PROMPT, build_prompt  # noqa: E402
from timelens_eval.spans import Span  # noqa: E402
from timelens_eval.video.testing import write_indexed_video  # noqa: E402
from timelens_eval.video.types import Frames  # noqa: E402

KEY = "test-key-123"


def camel(value: Any) -> Any:
    """JSON with lowerCamelCase keys: the API's proto3 JSON accepts field names either way."""
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


class StandIn:
    """State of the protocol stand-in: files, uploads, calls, scripted faults."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.generate_calls: list[dict[str, Any]] = []
        self.upload_starts = 0
        self.file_gets: list[str] = []
        self.keys: set[str] = set()
        self.faults: dict[str, list[tuple[int, dict[str, str], str]]] = {}
        self.processing_polls = 1
        self.hits: dict[str, int] = {}
        self.expires = "2099-01-01T00:00:00Z"
        self.base = ""

    def fault(self, route: str) -> tuple[int, dict[str, str], str] | None:
        queue = self.faults.get(route)
        return queue.pop(0) if queue else None

    def file_resource(self, name: str) -> dict[str, Any]:
        f = self.files[name]
        return {
            "name": name,
            "uri": f"{self.base}/v1beta/{name}",
            "mimeType": f["mime"],
            "sizeBytes": str(len(f["bytes"])),
            "state": f["state"],
            "displayName": f["display"],
            "expirationTime": f["expires"],
        }

    def answer(self, body: dict[str, Any]) -> tuple[str, int]:
        parts = body["contents"][0]["parts"]
        files = [p for p in parts if "fileData" in p]
        if files:
            name = files[0]["fileData"]["fileUri"].split("/v1beta/")[-1]
            if self.files.get(name, {}).get("state") != "ACTIVE":
                raise LookupError(name)
            meta = files[0].get("videoMetadata", {})
            start = float(meta.get("startOffset", "0s").rstrip("s"))
            end = float(meta.get("endOffset", "1s").rstrip("s"))
            return f"The event happens in {start} - {end} seconds.", 300
        images = [p for p in parts if "inlineData" in p]
        stamps = [
            float(p["text"][:-1])
            for p in parts
            if "text" in p and re.fullmatch(r"\d+\.\d+s", p["text"])
        ]
        answer = f"The event happens in {stamps[0]} - {stamps[-1]} seconds." if stamps else "?"
        return answer, 258 * len(images) + 40


@pytest.fixture()
def server() -> Iterator[StandIn]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(
                status, {"error": {"code": status, "message": message, "status": "ERROR"}}, headers
            )

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _faulted(self, route: str) -> bool:
            state.hits[route] = state.hits.get(route, 0) + 1
            fault = state.fault(route)
            if fault is None:
                return False
            status, headers, message = fault
            self._error(
                status, message.replace("{key}", self.headers.get("x-goog-api-key", "")), headers
            )
            return True

        def do_GET(self) -> None:
            state.keys.add(self.headers.get("x-goog-api-key", ""))
            m = re.fullmatch(r"/v1beta/(files/[\w-]+)", self.path)
            if not m:
                return self._error(404, "no route")
            name = m.group(1)
            state.file_gets.append(name)
            if name not in state.files:
                return self._error(404, "File not found")
            f = state.files[name]
            if f["state"] == "PROCESSING":
                f["polls"] += 1
                if f["polls"] > state.processing_polls:
                    f["state"] = "ACTIVE"
            self._send(200, state.file_resource(name))

        def do_POST(self) -> None:
            body = self._body()
            if not self.path.startswith("/upload-session/"):  # the session URL is the grant
                state.keys.add(self.headers.get("x-goog-api-key", ""))
            if self.path.startswith("/upload/v1beta/files"):
                if self._faulted("upload"):
                    return
                assert self.headers["X-Goog-Upload-Protocol"] == "resumable"
                assert self.headers["X-Goog-Upload-Command"] == "start"
                state.upload_starts += 1
                sid = str(len(state.sessions))
                meta = json.loads(body or b"{}").get("file", {})
                state.sessions[sid] = {
                    "mime": self.headers["X-Goog-Upload-Header-Content-Type"],
                    "size": int(self.headers["X-Goog-Upload-Header-Content-Length"]),
                    "display": meta.get("displayName", ""),
                    "bytes": b"",
                }
                return self._send(
                    200, {}, {"X-Goog-Upload-URL": f"{state.base}/upload-session/{sid}"}
                )
            m = re.fullmatch(r"/upload-session/(\d+)", self.path)
            if m:
                session = state.sessions[m.group(1)]
                assert int(self.headers["X-Goog-Upload-Offset"]) == len(session["bytes"])
                session["bytes"] += body
                if "finalize" not in self.headers["X-Goog-Upload-Command"]:
                    return self._send(200, {}, {"X-Goog-Upload-Status": "active"})
                assert len(session["bytes"]) == session["size"]
                name = f"files/f{len(state.files)}"
                state.files[name] = {
                    "bytes": session["bytes"],
                    "mime": session["mime"],
                    "state": "PROCESSING",
                    "polls": 0,
                    "display": session["display"],
                    "expires": state.expires,
                }
                return self._send(
                    200, {"file": state.file_resource(name)}, {"X-Goog-Upload-Status": "final"}
                )
            m = re.fullmatch(r"/v1beta/models/([\w.-]+):generateContent", self.path)
            if m:
                request = camel(json.loads(body))
                state.generate_calls.append({"model": m.group(1), "body": request})
                if self._faulted("generate"):
                    return
                try:
                    text, prompt_tokens = state.answer(request)
                except LookupError as exc:
                    return self._error(403, f"file {exc} is not available")
                return self._send(
                    200,
                    {
                        "candidates": [
                            {
                                "content": {"role": "model", "parts": [{"text": text}]},
                                "finishReason": "STOP",
                                "index": 0,
                            }
                        ],
                        "usageMetadata": {
                            "promptTokenCount": prompt_tokens,
                            "candidatesTokenCount": 12,
                            "thoughtsTokenCount": 5,
                            "totalTokenCount": prompt_tokens + 17,
                        },
                        "modelVersion": m.group(1),
                    },
                )
            self._error(404, "no route")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return write_indexed_video(tmp_path / "v.mp4", [i / 5 for i in range(20)], height=48, width=64)


def _adapter(
    server: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **args: Any
) -> GeminiAdapter:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    defaults: dict[str, Any] = {
        "model": "gemini-2.5-pro",
        "base_url": server.base,
        "cache_dir": str(tmp_path / "cache"),
        "upload_poll": 0.01,
        "backoff": 0.01,
    }
    return GeminiAdapter(**{**defaults, **args})


def _upload_request(video: Path, clip: Span | None = None, sample: str = "s1") -> GroundingRequest:
    return GroundingRequest(
        sample_id=sample,
        query="the bar moves",
        duration=4.0,
        video_path=video,
        message=None,
        clip=clip,
    )


def test_upload_mode_sends_the_file_with_video_metadata(
    server: StandIn, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = _adapter(server, tmp_path, monkeypatch, price_input=2.0, price_output=10.0)
    assert adapter.needs_frames is False
    out = asyncio.run(adapter.ground(_upload_request(video, clip=Span(1.0, 3.5))))

    assert server.upload_starts == 1
    (stored,) = server.files.values()
    assert stored["bytes"] == video.read_bytes() and stored["mime"] == "video/mp4"
    assert server.file_gets == ["files/f0", "files/f0"]  # PROCESSING, then ACTIVE
    (call,) = server.generate_calls
    assert call["model"] == "gemini-2.5-pro"
    parts = call["body"]["contents"][0]["parts"]
    assert call["body"]["contents"][0]["role"] == "user"
    assert parts[0]["fileData"] == {
        "fileUri": f"{server.base}/v1beta/files/f0",
        "mimeType": "video/mp4",
    }
    assert parts[0]["videoMetadata"] == {"fps": 2.0, "startOffset": "1s", "endOffset": "3.5s"}
    assert parts[1] == {"text": TIMELENS_PROMPT.replace("{query}", "the bar moves")}
    assert call["body"]["generationConfig"] == {
        "temperature": 0.0,
        "topP": 1.0,
        "maxOutputTokens": 512,
        "seed": 0,
    }
    assert server.keys == {KEY}

    assert parse_spans(out.text, duration=4.0).top == Span(1.0, 3.5)
    assert out.usage is not None
    assert (out.usage.input_tokens, out.usage.output_tokens) == (300, 17)  # thinking billed
    assert out.cost_usd == pytest.approx((300 * 2.0 + 17 * 10.0) / 1e6)
    assert out.raw["attempts"] == 1
    described = adapter.describe()
    assert described["template"] == "timelens" and described["video_fps"] == 2.0
    assert len(described["template_hash"]) == 16 and "api_key" not in described


def test_uploads_are_cached_by_content_hash(
    server: StandIn, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = _adapter(server, tmp_path, monkeypatch)

    async def twice_at_once() -> None:
        await asyncio.gather(
            adapter.ground(_upload_request(video, sample="a")),
            adapter.ground(_upload_request(video, sample="b")),
        )

    asyncio.run(twice_at_once())
    assert server.upload_starts == 1 and adapter.uploaded == 1

    copy = tmp_path / "same-bytes-other-name.mp4"
    shutil.copy(video, copy)
    fresh = _adapter(server, tmp_path, monkeypatch)  # a new process would read the same cache
    asyncio.run(fresh.ground(_upload_request(copy)))
    assert server.upload_starts == 1 and fresh.uploaded == 0

    other = write_indexed_video(
        tmp_path / "other.mp4", [i / 5 for i in range(10)], height=48, width=64
    )
    asyncio.run(fresh.ground(_upload_request(other)))
    assert server.upload_starts == 2

    server.files.clear()  # the Files API expired everything
    asyncio.run(fresh.ground(_upload_request(video)))
    assert server.upload_starts == 3
    assert len(server.generate_calls) == 5


def test_the_cache_keeps_files_no_longer_than_the_api_says(
    server: StandIn, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, timedelta, timezone

    soon = datetime.now(timezone.utc) + timedelta(minutes=5)  # inside the 10-minute margin
    server.expires = soon.isoformat().replace("+00:00", "Z")
    adapter = _adapter(server, tmp_path, monkeypatch)
    asyncio.run(adapter.ground(_upload_request(video, sample="a")))
    asyncio.run(adapter.ground(_upload_request(video, sample="b")))
    assert server.upload_starts == 2  # the first upload was too close to expiry to reuse
    cache = json.loads((tmp_path / "cache" / "gemini-files.json").read_text())
    (entries,) = cache.values()
    assert all("expires" in e for e in entries.values())


def test_frames_mode_sends_frames_inline_between_textual_timestamps(
    server: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    adapter = _adapter(server, tmp_path, monkeypatch, mode="frames")
    assert adapter.needs_frames and adapter.default_encoding == "interleaved"
    rng = np.random.default_rng(0)
    frames = Frames(
        images=rng.integers(0, 256, (3, 40, 60, 3), dtype=np.uint8),
        timestamps=np.array([2.0, 2.5, 3.0]),
    )
    message = build_prompt("a cat", frames, "timelens", "interleaved", 6.0)
    request = GroundingRequest(
        sample_id="f",
        query="a cat",
        duration=6.0,
        video_path=None,
        message=message,
        generation=GenerationConfig(max_new_tokens=64),
    )
    out = asyncio.run(adapter.ground(request))

    parts = server.generate_calls[0]["body"]["contents"][0]["parts"]
    assert [p.get("text") for p in parts[0:6:2]] == ["2.0s", "2.5s", "3.0s"]
    for p in parts[1:6:2]:
        assert p["inlineData"]["mimeType"] == "image/jpeg"
        data = p["inlineData"]["data"]  # bytes fields are base64 (URL-safe, maybe unpadded)
        image = Image.open(io.BytesIO(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))))
        assert image.size == (60, 40)
    assert parts[6]["text"].startswith("Please find the visual event described by the sentence")
    assert server.generate_calls[0]["body"]["generationConfig"]["maxOutputTokens"] == 64
    assert server.upload_starts == 0
    assert parse_spans(out.text, duration=6.0).top == Span(2.0, 3.0)
    assert out.usage is not None and out.usage.input_tokens == 3 * 258 + 40
    assert out.cost_usd is None  # no list price for a custom endpoint without price args


def test_transient_errors_are_retried_and_retry_after_is_honoured(
    server: StandIn, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = _adapter(server, tmp_path, monkeypatch, max_retries=3)
    server.faults["upload"] = [(503, {}, "unavailable")]
    server.faults["generate"] = [(429, {"Retry-After": "0.05"}, "slow down"), (500, {}, "internal")]
    started = time.perf_counter()
    out = asyncio.run(adapter.ground(_upload_request(video)))
    assert time.perf_counter() - started >= 0.05  # the Retry-After was waited out
    assert out.raw["attempts"] == 3
    assert len(server.generate_calls) == 3
    assert server.hits["upload"] == 2 and server.upload_starts == 1  # failed start, then one
    assert out.text.startswith("The event happens in")


def test_client_errors_fail_at_once_and_persistent_errors_give_up(
    server: StandIn, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = _adapter(server, tmp_path, monkeypatch, max_retries=2)
    server.faults["generate"] = [(400, {}, "bad request, key={key}")]
    with pytest.raises(AdapterError) as info:
        asyncio.run(adapter.ground(_upload_request(video)))
    assert not info.value.retryable and "HTTP 400" in str(info.value)
    assert "after 1 attempt:" in str(info.value)
    assert KEY not in str(info.value) and "***" in str(info.value)

    server.faults["generate"] = [(500, {}, "boom")] * 3
    with pytest.raises(AdapterError, match="after 3 attempts: HTTP 500") as info:
        asyncio.run(adapter.ground(_upload_request(video)))
    assert info.value.retryable is False

    once = _adapter(server, tmp_path, monkeypatch, max_retries=0)
    server.faults["generate"] = [(503, {"Retry-After": "7"}, "later")]
    with pytest.raises(AdapterError) as info:
        asyncio.run(once.ground(_upload_request(video)))
    assert info.value.retryable is True and info.value.retry_after == 7.0


def test_configuration_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no API key: set GEMINI_API_KEY or GOOGLE_API_KEY"):
        GeminiAdapter(model="gemini-2.5-pro")
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with pytest.raises(ConfigError, match="through the environment"):
        GeminiAdapter(model="gemini-2.5-pro", api_key=KEY)
    with pytest.raises(ConfigError, match="did you mean 'video_fps'"):
        GeminiAdapter(model="gemini-2.5-pro", video_fsp=1)
    with pytest.raises(ConfigError, match="unknown prompt template"):
        GeminiAdapter(model="gemini-2.5-pro", template="nope")
    adapter = GeminiAdapter(model="gemini-2.5-flash", cache_dir=str(tmp_path))
    assert adapter._price is not None  # list price known for the real endpoint


def test_missing_google_genai_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "google.genai", None)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with pytest.raises(MissingDependencyError) as info:
        GeminiAdapter(model="gemini-2.5-pro")
    assert str(info.value) == (
        "the gemini adapter needs the optional dependency "
        "'google-genai': pip install 'timelens-eval[gemini]'"
    )
