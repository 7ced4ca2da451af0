"""``timelens-eval serve``: translating chat requests and answering OpenAI clients over HTTP."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from timelens_eval.adapters import build_adapter
from timelens_eval.serve import ChatRequestError, ServerThread, create_app, request_from_chat

pytestmark = pytest.mark.timeout(60)


def png_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for _ in range(n)]


def image_part(image: np.ndarray) -> dict:
    return {"type": "image_url", "image_url": {"url": png_url(image)}}


def text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def chat(content: list[dict], model: str = "mock", **extra: object) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


# -- translation ---------------------------------------------------------------------------


def test_images_text_and_order_survive_translation():
    images = frames(3)
    content = [text_part("Find 'a cat sits'. ")]
    for i, image in enumerate(images):
        content += [text_part(f"<{1.5 * i:.1f}s>"), image_part(image)]
    request = request_from_chat(chat(content))
    parts = request.message.parts
    assert [type(p).__name__ for p in parts] == ["TextPart"] + ["TextPart", "ImagePart"] * 3
    for got, image in zip(request.message.images, images, strict=True):
        np.testing.assert_array_equal(got.image, image)
    assert request.message.timestamps.tolist() == [0.0, 1.5, 3.0]
    assert request.message.encoding == "text"
    assert request.duration == pytest.approx(4.5)  # last frame + one frame step


def test_timestamps_written_after_each_frame():
    images = frames(3)
    content = [text_part("Clip at 2 fps, find 'x'. ")]
    for i, image in enumerate(images):
        content += [image_part(image), text_part(f" t=00:{10 + 2 * i:02d} ")]
    request = request_from_chat(chat(content))
    assert request.message.timestamps.tolist() == [10.0, 12.0, 14.0]


def test_without_labels_timestamps_follow_the_frame_index():
    content = [text_part("Find 'x' in these 3 frames.")] + [image_part(f) for f in frames(3)]
    request = request_from_chat(chat(content), fps=4.0)
    assert request.message.timestamps.tolist() == [0.0, 0.25, 0.5]
    assert request.message.encoding == "index"
    assert request.query == "Find 'x' in these 3 frames."


def test_metadata_wins_over_text():
    content = [text_part("<0s>"), image_part(frames(1)[0])]
    body = chat(
        content,
        timelens={
            "sample_id": "v1_q3",
            "query": "a cat sits",
            "duration": 30.0,
            "timestamps": [12.5],
            "clip": [10.0, 20.0],
        },
    )
    request = request_from_chat(body)
    assert (request.sample_id, request.query, request.duration) == ("v1_q3", "a cat sits", 30.0)
    assert request.message.timestamps.tolist() == [12.5]
    assert tuple(request.clip) == (10.0, 20.0)


def test_generation_settings_are_mapped():
    request = request_from_chat(
        chat([text_part("q")], temperature=0.2, top_p=0.5, max_tokens=33, seed=3)
    )
    generation = request.generation
    assert (
        generation.temperature,
        generation.top_p,
        generation.max_new_tokens,
        generation.seed,
    ) == (0.2, 0.5, 33, 3)
    assert request_from_chat(chat([text_part("q")])).generation.temperature == 0.0


@pytest.mark.parametrize(
    "body, reason",
    [
        (chat([text_part("q")], stream=True), "stream"),
        (chat([text_part("q")], n=2), "n=1"),
        (chat([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]), "data URL"),
        (
            chat([{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]),
            "decodable",
        ),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "assistant"),
        (chat([{"type": "input_audio"}]), "input_audio"),
        (chat([text_part("q")], max_tokens=0), "max_tokens"),
    ],
)
def test_untranslatable_requests_are_refused(body, reason):
    with pytest.raises(ChatRequestError, match=reason):
        request_from_chat(body)


# -- over HTTP -----------------------------------------------------------------------------


def test_openai_client_talks_to_the_server():
    mock = build_adapter("mock", "rule=center,model=mock-center")
    with ServerThread(create_app(mock)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["mock-center"]
        content = [
            text_part("<0s>"),
            image_part(frames(1)[0]),
            text_part("<2s>"),
            image_part(frames(1)[0]),
        ]
        response = client.chat.completions.create(
            model="mock-center",
            messages=[{"role": "user", "content": content}],
            extra_body={"timelens": {"sample_id": "a", "query": "q", "duration": 8.0}},
        )
        client.close()
    assert response.choices[0].message.content == "The event happens in 2.00 - 6.00 seconds."
    seen = mock.requests[0]
    assert seen.duration == 8.0 and seen.message.timestamps.tolist() == [0.0, 2.0]
    assert response.usage.completion_tokens == 12
    assert response.usage.total_tokens == response.usage.prompt_tokens + 12


def test_adapter_failures_map_to_retryable_http_status():
    mock = build_adapter("mock", {"fail_times": {"t": 1}, "fail_always": ["p"], "retry_after": 0.3})
    with ServerThread(create_app(mock)) as server, httpx.Client(base_url=server.base_url) as http:

        def post(sample_id: str) -> httpx.Response:
            body = chat([text_part("q")], timelens={"sample_id": sample_id, "duration": 5.0})
            return http.post("/chat/completions", json=body)

        transient = post("t")
        assert transient.status_code == 503
        assert transient.headers["retry-after"] == "1"
        assert transient.headers["retry-after-ms"] == "300"
        assert "scripted transient failure" in transient.json()["error"]["message"]
        assert post("t").status_code == 200  # the second call succeeds
        assert http.post("/chat/completions", content=b"{nope").status_code == 400
        refused = http.post("/chat/completions", json={"messages": []})
        assert refused.status_code == 400 and "messages" in refused.json()["error"]["message"]


def test_non_retryable_failures_tell_clients_not_to_retry():
    from timelens_eval.adapters import Adapter, AdapterError

    class Broken(Adapter):
        name = "broken"

        async def ground(self, request):
            raise AdapterError("model refused the input", retryable=False)

    with ServerThread(create_app(Broken())) as server, httpx.Client() as http:
        body = chat([text_part("q")], model="broken")
        response = http.post(server.base_url + "/chat/completions", json=body)
    assert response.status_code == 500
    assert response.headers["x-should-retry"] == "false"


def test_api_key_is_required_when_configured():
    mock = build_adapter("mock", "")
    with ServerThread(create_app(mock, api_key="sk-serve-secret")) as server:
        wrong = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            wrong.models.list()
        assert "sk-serve-secret" not in str(info.value)
        right = openai.OpenAI(base_url=server.base_url, api_key="sk-serve-secret")
        assert right.models.list().data[0].id == "mock"
        wrong.close()
        right.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_serve_command_runs_a_real_server(tmp_path):
    port = free_port()
    env = {**os.environ, "SERVE_TEST_KEY": "sk-cli-secret"}
    command = [
        sys.executable,
        "-m",
        "timelens_eval",
        "serve",
        "--adapter",
        "mock",
        "--adapter-args",
        "rule=whole,model=whole-video",
        "--port",
        str(port),
        "--api-key-env",
        "SERVE_TEST_KEY",
    ]
    log = tmp_path / "serve.log"
    with open(log, "w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-cli-secret", max_retries=0
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        response = client.chat.completions.create(
            model="whole-video",
            messages=[{"role": "user", "content": "Find the dog."}],
            extra_body={"timelens": {"duration": 12.0}},
        )
        client.close()
        assert response.model == "whole-video"
        assert response.choices[0].message.content == "The event happens in 0.00 - 12.00 seconds."
    finally:
        process.terminate()
        process.wait(timeout=15)
    output = log.read_text()
    assert f"http://127.0.0.1:{port}/v1" in output
    assert "sk-cli-secret" not in output


@pytest.mark.parametrize("encoding", ["interleaved", "list", "frame-index", "none"])
def test_the_projects_timestamp_encodings_are_read_back(encoding):
    from timelens_eval.adapters.openai_chat import message_content
    from timelens_eval.prompts import build_prompt
    from timelens_eval.video.encodings import format_seconds
    from timelens_eval.video.types import Frames

    stamps = np.array([0.25, 3.0, 5.5, 8.0])
    video = Frames(images=np.stack(frames(4)), timestamps=stamps, video_duration=9.0)
    message = build_prompt("a cat sits", video, "timelens", encoding, 9.0)
    content = message_content(message, image_format="png")
    request = request_from_chat(chat(content), fps=0.5)
    if encoding in ("interleaved", "list"):  # written as text, one decimal
        expected = [float(format_seconds(t)) for t in stamps]
    else:  # nothing to read: the frame index at --fps
        expected = [0.0, 2.0, 4.0, 6.0]
    assert request.message.timestamps.tolist() == expected
    for got, image in zip(request.message.images, video.images, strict=True):
        np.testing.assert_array_equal(got.image, image)


def test_serve_command_errors_are_one_line(monkeypatch, capsys):
    from timelens_eval.cli import main

    monkeypatch.delenv("NO_SUCH_SERVE_KEY", raising=False)
    code = main(["serve", "--adapter", "mock", "--api-key-env", "NO_SUCH_SERVE_KEY"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "NO_SUCH_SERVE_KEY" in err
    code = main(["serve", "--adapter", "mokc"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'mock'" in err
