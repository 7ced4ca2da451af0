"""The openai adapter: construction errors, the request it sends, usage and cost."""

from __future__ import annotations

import asyncio
import base64
import io
import sys

import numpy as np
import pytest
from openai_fault_server import FaultServer, Reply, completion
from PIL import Image

from timelens_eval.adapters import GenerationConfig, GroundingRequest, build_adapter
from timelens_eval.adapters.openai_chat import OpenAIAdapter, message_content
from timelens_eval.adapters.pricing import PRICES, cost_usd, price_for
from timelens_eval.errors import ConfigError, MissingDependencyError, TimelensError
from timelens_eval.messages import ImagePart, PromptMessage, TextPart

pytestmark = pytest.mark.timeout(30)


def frames_message(n: int = 3) -> PromptMessage:
    rng = np.random.default_rng(0)
    parts: list = [TextPart("Find 'a dog jumps'.\n")]
    for i in range(n):
        parts.append(TextPart(f"<{i * 0.5:.1f} seconds>"))
        parts.append(ImagePart(rng.integers(0, 256, (6, 10, 3), dtype=np.uint8), i * 0.5, i))
    parts.append(TextPart("\nAnswer with start and end."))
    return PromptMessage(tuple(parts), template="t", template_hash="h", encoding="text")


def decode(url: str) -> np.ndarray:
    header, data = url.split(";base64,")
    assert header.startswith("data:image/")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


# -- construction ------------------------------------------------------------------------


def test_missing_key_fails_at_construction_with_one_line(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        build_adapter("openai", "model=gpt-4o")
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "\n" not in message


def test_key_variable_can_be_renamed(monkeypatch):
    monkeypatch.delenv("MY_PROVIDER_KEY", raising=False)
    with pytest.raises(ConfigError, match="MY_PROVIDER_KEY"):
        build_adapter("openai", "model=gpt-4o,api_key_env=MY_PROVIDER_KEY")
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-renamed")
    assert build_adapter("openai", "model=gpt-4o,api_key_env=MY_PROVIDER_KEY").model == "gpt-4o"


def test_key_as_an_argument_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with pytest.raises(ConfigError) as info:
        build_adapter("openai", "model=gpt-4o,api_key=sk-on-the-command-line")
    assert "sk-on-the-command-line" not in str(info.value)
    assert "environment" in str(info.value)


def test_unknown_argument_suggests_the_right_one(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with pytest.raises(ConfigError, match="did you mean 'base_url'"):
        build_adapter("openai", "model=gpt-4o,base_ur=http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="max_retries"):
        build_adapter("openai", "model=gpt-4o,max_retries=-1")


def test_missing_openai_package_names_the_extra(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setitem(sys.modules, "openai", None)  # import openai -> ImportError
    with pytest.raises(MissingDependencyError) as info:
        OpenAIAdapter(model="gpt-4o")
    assert "timelens-eval[openai]" in str(info.value)


def test_cli_reports_missing_credentials_as_one_line(monkeypatch, capsys):
    from timelens_eval.cli import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = main(["serve", "--adapter", "openai", "--adapter-args", "model=gpt-4o"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "OPENAI_API_KEY" in err


def test_a_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    adapter = build_adapter("openai", "model=qwen,base_url=http://127.0.0.1:9/v1,timeout=5")
    assert adapter.describe() == {
        "model": "qwen",
        "base_url": "http://127.0.0.1:9/v1",
        "timeout": 5,
    }


# -- the request ---------------------------------------------------------------------------


def test_content_parts_follow_the_message_order():
    message = frames_message(3)
    content = message_content(message, image_format="png", detail="low")
    kinds = ["image" if p["type"] == "image_url" else p["text"] for p in content]
    expected = ["image" if isinstance(p, ImagePart) else p.text for p in message.parts]
    assert kinds == expected
    images = [p for p in content if p["type"] == "image_url"]
    for part, frame in zip(images, message.images, strict=True):
        assert part["image_url"]["detail"] == "low"
        np.testing.assert_array_equal(decode(part["image_url"]["url"]), frame.image)  # lossless


def test_jpeg_frames_are_close_to_the_originals():
    smooth = np.tile(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], (32, 1, 3))
    message = PromptMessage((ImagePart(smooth, 0.0, 0),), "t", "h", "none")
    (part,) = message_content(message, image_format="jpeg", jpeg_quality=95)
    assert part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert np.abs(decode(part["image_url"]["url"]).astype(int) - smooth).mean() < 3


def test_request_body_carries_prompt_and_generation(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-body-test")
    message = frames_message(2)
    request = GroundingRequest(
        "vid_3",
        "a dog jumps",
        7.5,
        None,
        message,
        generation=GenerationConfig(temperature=0.0, top_p=0.9, max_new_tokens=64, seed=7),
    )
    with FaultServer([Reply()]) as server:
        adapter = OpenAIAdapter(
            model="my-model",
            base_url=server.base_url,
            send_metadata=True,
            max_tokens_param="max_completion_tokens",
        )
        asyncio.run(adapter.ground(request))
    (attempt,) = server.attempts
    body = attempt.body
    assert attempt.headers["authorization"] == "Bearer sk-body-test"
    assert body["model"] == "my-model"
    assert body["temperature"] == 0.0 and body["top_p"] == 0.9 and body["seed"] == 7
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    (turn,) = body["messages"]
    assert turn["role"] == "user"
    assert [p["type"] for p in turn["content"]] == [
        "text",
        "text",
        "image_url",
        "text",
        "image_url",
        "text",
    ]
    assert body["timelens"] == {
        "sample_id": "vid_3",
        "query": "a dog jumps",
        "duration": 7.5,
        "timestamps": [0.0, 0.5],
        "clip": None,
    }


def test_metadata_is_not_sent_by_default(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with FaultServer([Reply()]) as server:
        adapter = OpenAIAdapter(model="m", base_url=server.base_url)
        asyncio.run(adapter.ground(GroundingRequest("s", "q", 3.0, None, frames_message(1))))
    body = server.attempts[0].body
    assert "timelens" not in body and body["max_tokens"] == 512


def test_a_request_without_frames_is_refused(monkeypatch):
    from timelens_eval.adapters import AdapterError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    adapter = OpenAIAdapter(model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(AdapterError) as info:
        asyncio.run(adapter.ground(GroundingRequest("s", "q", 3.0, None, None)))
    assert info.value.retryable is False


# -- usage and cost ------------------------------------------------------------------------


def test_usage_and_cost_with_explicit_prices(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    body = completion(prompt_tokens=250_000, completion_tokens=2_000)
    with FaultServer([Reply(200, body)]) as server:
        adapter = OpenAIAdapter(
            model="m", base_url=server.base_url, price_input=3.0, price_output=12.0
        )
        out = asyncio.run(adapter.ground(GroundingRequest("s", "q", 3.0, None, frames_message(1))))
    assert (out.usage.input_tokens, out.usage.output_tokens) == (250_000, 2_000)
    assert out.cost_usd == pytest.approx(0.25 * 3.0 + 0.002 * 12.0)
    assert out.latency_s is not None and out.latency_s > 0


def test_a_self_hosted_model_has_no_cost(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with FaultServer([Reply()]) as server:
        adapter = OpenAIAdapter(model="gpt-4o", base_url=server.base_url)
        out = asyncio.run(adapter.ground(GroundingRequest("s", "q", 3.0, None, frames_message(1))))
    assert out.usage is not None and out.cost_usd is None  # a local gpt-4o name is no price


def test_openai_models_are_priced_from_the_table(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    adapter = OpenAIAdapter(model="gpt-4o-mini")
    assert adapter._price == PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-2024-08-06") == PRICES["gpt-4o"]
    assert price_for("gpt-4o-mini-2024-07-18") == PRICES["gpt-4o-mini"]
    assert price_for("qwen2.5-vl-7b") is None
    assert cost_usd(None, 10, 10) is None
    price = PRICES["gpt-4.1"]
    assert cost_usd(price, 1_000_000, 0) == pytest.approx(price.input)
    assert cost_usd(price, 0, 1_000_000) == pytest.approx(price.output)


def test_errors_are_timelens_errors_for_the_cli(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(TimelensError):
        OpenAIAdapter(model="gpt-4o")


def test_retry_after_header_forms():
    import email.utils
    import time

    import httpx

    from timelens_eval.adapters.openai_chat import retry_after_seconds

    assert retry_after_seconds(httpx.Headers({"retry-after": "2.5"})) == 2.5
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(httpx.Headers({"retry-after": date})) <= 31
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


# -- frames_as=video: vllm serve of a Qwen-VL model --------------------------------------


def _video_frames(times: list[float], side: int = 56):
    from timelens_eval.messages import VideoSource
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.types import Frames

    rng = np.random.default_rng(1)
    frames = Frames(
        images=rng.integers(0, 256, (len(times), side, side, 3), dtype=np.uint8),
        timestamps=np.array(times),
    )
    return frames, build_prompt, VideoSource


def _decode_video_url(url: str) -> np.ndarray:
    """Frames of a ``data:video/jpeg;base64,...`` URL, read as vLLM reads them (one image
    per comma-separated base64 item)."""
    header, data = url.split(";base64,", 1)
    assert header == "data:video/jpeg"
    return np.stack(
        [
            np.asarray(Image.open(io.BytesIO(base64.b64decode(f))).convert("RGB"))
            for f in data.split(",")
        ]
    )


@pytest.mark.parametrize(
    ("model", "runs", "fps"),
    [("Qwen/Qwen2.5-VL-7B-Instruct", 1, 2.0), ("TencentARC/TimeLens-7B", 2, 2.0)],
)
def test_frames_as_video_sends_videos_with_the_vllm_processor_options(
    monkeypatch, model: str, runs: int, fps: float
):
    from timelens_eval.adapters.presets import PRESETS, resolve_preset

    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    preset = resolve_preset(model)
    frames, build_prompt, _ = _video_frames([0.0, 0.5, 1.0, 1.5])
    message = build_prompt("a dog jumps", frames, preset.template, preset.encoding, 3.0)
    with FaultServer([Reply()]) as server:
        adapter = OpenAIAdapter(model=model, base_url=server.base_url, frames_as="video")
        assert adapter.default_frames == PRESETS[preset.name].frames  # qwen-vl-utils frames
        assert adapter.default_encoding == preset.encoding
        asyncio.run(adapter.ground(GroundingRequest("s", "a dog jumps", 3.0, None, message)))
    body = server.attempts[0].body
    parts = body["messages"][0]["content"]
    videos = [p["video_url"]["url"] for p in parts if p["type"] == "video_url"]
    assert len(videos) == runs and not [p for p in parts if p["type"] == "image_url"]
    sent = np.concatenate([_decode_video_url(u) for u in videos])
    np.testing.assert_array_equal(sent, frames.images)  # PNG: the pixels arrive unchanged
    assert body["mm_processor_kwargs"] == {
        "do_sample_frames": False,
        "do_resize": False,
        "fps": fps,
    }
    if runs == 2:  # TimeLens-7B: the timestamp of each 2-frame patch before its video
        texts = [p["text"] for p in parts if p["type"] == "text"]
        assert texts[:2] == ["0.0s", "1.0s"]


def test_frames_as_video_of_a_qwen3_model_warns_that_times_are_lost(monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with caplog.at_level("WARNING", logger="timelens_eval.adapters.openai"):
        OpenAIAdapter(
            model="Qwen/Qwen3-VL-8B-Instruct", base_url="http://127.0.0.1:9/v1", frames_as="video"
        )
    assert "no video metadata" in caplog.text and "vllm adapter" in caplog.text


def test_a_preset_without_frames_as_video_is_refused(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with pytest.raises(ConfigError, match="only used with frames_as=video"):
        OpenAIAdapter(model="m", base_url="http://127.0.0.1:9/v1", preset="qwen3-vl")
