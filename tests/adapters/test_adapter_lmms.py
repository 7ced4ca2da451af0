"""The ``lmms`` bridge drives real lmms-eval model classes through lmms-eval's own API.

Two small model classes are defined here and registered with lmms-eval's model registry
(``MODEL_REGISTRY_V2``), one "simple" and one "chat" model; the bridge resolves them by
name with ``lmms_eval.models.get_model``, builds them with ``create_from_arg_string``
and sends lmms-eval ``Instance`` requests. The models decode the video file they are
given (PyAV) or look at the frames, so their answers depend on what the bridge sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("lmms_eval.models")
pytest.importorskip("torch")

from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts  # noqa: E402
from lmms_eval.api.model import lmms  # noqa: E402
from lmms_eval.models import MODEL_REGISTRY_V2  # noqa: E402
from lmms_eval.models.registry_v2 import ModelManifest  # noqa: E402
from lmms_eval.protocol import ChatMessages  # noqa: E402

from timelens_eval.adapters import AdapterError, GenerationConfig, GroundingRequest  # noqa: E402
from timelens_eval.adapters.lmms_bridge import LmmsAdapter  # noqa: E402
from timelens_eval.errors import ConfigError, MissingDependencyError  # noqa: E402
from timelens_eval.parsing import parse_spans  # noqa: E402
from timelens_eval.prompts import build_prompt  # noqa: E402
from timelens_eval.spans import Span  # noqa: E402
from timelens_eval.video.testing import write_indexed_video  # noqa: E402
from timelens_eval.video.types import Frames  # noqa: E402

SEEN: list[dict[str, Any]] = []


class VideoLengthLMM(lmms):
    """A simple lmms-eval model: answers the decoded length of the video it is given."""

    def __init__(self, scale: str = "1.0", **kwargs: Any) -> None:
        super().__init__()
        self.scale = float(scale)
        self.extra = kwargs

    def generate_until(self, requests: list[Instance]) -> list[Any]:
        import av

        answers: list[Any] = []
        for request in requests:
            ctx, gen_kwargs, doc_to_visual, doc_id, task, split = request.args
            visuals = doc_to_visual(self.task_dict[task][split][doc_id])
            SEEN.append(
                {
                    "ctx": ctx,
                    "gen_kwargs": gen_kwargs,
                    "visuals": visuals,
                    "task": request.task_name,
                    "doc_id": request.doc_id,
                }
            )
            if isinstance(visuals[0], str):
                with av.open(visuals[0]) as container:
                    n = sum(1 for _ in container.decode(video=0))
                end = n / 10 * self.scale  # the test video runs at 10 fps
            else:
                end = float(len(visuals))
            answers.append(
                GenerationResult(
                    text=f"The event happens in 0.0 - {end:.1f} seconds.",
                    token_counts=TokenCounts(input_tokens=len(ctx), output_tokens=9),
                )
            )
        return answers

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError


class ChatFramesLMM(lmms):
    """A chat lmms-eval model: reads its messages through lmms-eval's ChatMessages."""

    is_simple = False

    def generate_until(self, requests: list[Instance]) -> list[str]:
        out = []
        for request in requests:
            ctx, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
            messages = ChatMessages(messages=doc_to_messages(self.task_dict[task][split][doc_id]))
            images, videos, _ = messages.extract_media()
            texts = [c.text for c in messages.messages[0].content if c.type == "text"]
            SEEN.append({"images": images, "videos": videos, "texts": texts})
            stamps = [
                float(t[:-1])
                for t in texts
                if t.endswith("s") and t[:-1].replace(".", "").isdigit()
            ]
            out.append(f"The event happens in {stamps[0]} - {stamps[-1]} seconds")
        return out

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    MODEL_REGISTRY_V2.register_manifest(
        ModelManifest(
            model_id="timelens_video_length",
            simple_class_path=f"{__name__}.VideoLengthLMM",
            aliases=("video_length",),
        ),
        overwrite=True,
    )
    MODEL_REGISTRY_V2.register_manifest(
        ModelManifest(model_id="timelens_chat_frames", chat_class_path=f"{__name__}.ChatFramesLMM"),
        overwrite=True,
    )


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return write_indexed_video(tmp_path / "v.mp4", [i / 10 for i in range(25)], height=32, width=48)


def test_simple_model_gets_the_video_and_the_prompt(video: Path) -> None:
    SEEN.clear()
    adapter = LmmsAdapter(model="video_length", model_args='"scale=2,note=x"')
    assert adapter.needs_frames is False and adapter.chat is False
    assert adapter.lmm.scale == 2.0 and adapter.lmm.extra == {"note": "x"}
    request = GroundingRequest(
        sample_id="a",
        query="the bar moves",
        duration=2.5,
        video_path=video,
        message=None,
        generation=GenerationConfig(max_new_tokens=40),
    )
    out = asyncio.run(adapter.ground(request))

    assert parse_spans(out.text, duration=5.0).top == Span(0.0, 5.0)  # 25 frames x 2
    (seen,) = SEEN
    assert seen["visuals"] == [str(video)]
    assert seen["ctx"].startswith(
        "Please find the visual event described by the sentence 'the bar moves'"
    )
    assert seen["gen_kwargs"] == {
        "max_new_tokens": 40,
        "temperature": 0.0,
        "top_p": 1.0,
        "do_sample": False,
        "num_beams": 1,
        "until": [],
    }
    assert seen["task"] == "timelens_grounding"
    assert out.usage is not None and out.usage.output_tokens == 9
    assert out.usage.input_tokens == len(seen["ctx"])
    assert adapter.lmm.task_dict["timelens_grounding"]["test"] == {}  # docs are removed


def test_simple_model_with_frames_gets_pil_images() -> None:
    SEEN.clear()
    adapter = LmmsAdapter(model="timelens_video_length", visual="frames")
    assert adapter.needs_frames is True
    frames = Frames(
        images=np.zeros((3, 20, 30, 3), dtype=np.uint8), timestamps=np.array([0.0, 0.5, 1.0])
    )
    message = build_prompt("q", frames, "timelens", "none", 1.5)
    request = GroundingRequest(
        sample_id="b", query="q", duration=1.5, video_path=None, message=message
    )
    out = asyncio.run(adapter.ground(request))
    assert out.text == "The event happens in 0.0 - 3.0 seconds."
    assert [im.size for im in SEEN[0]["visuals"]] == [(30, 20)] * 3


def test_chat_model_gets_frames_and_timestamps_in_order() -> None:
    SEEN.clear()
    adapter = LmmsAdapter(model="timelens_chat_frames", visual="frames")
    assert adapter.chat is True
    frames = Frames(
        images=np.zeros((2, 16, 16, 3), dtype=np.uint8), timestamps=np.array([4.0, 4.5])
    )
    message = build_prompt("q", frames, "timelens-7b", "interleaved", 9.0)
    request = GroundingRequest(
        sample_id="c", query="q", duration=9.0, video_path=None, message=message
    )
    out = asyncio.run(adapter.ground(request))
    assert parse_spans(out.text, duration=9.0).top == Span(4.0, 4.5)
    assert SEEN[0]["texts"][:2] == ["4.0s", "4.5s"]
    assert len(SEEN[0]["images"]) == 2 and SEEN[0]["videos"] == []


def test_unknown_models_and_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'timelens_video_length'"):
        LmmsAdapter(model="timelens_video_lenght")
    with pytest.raises(ConfigError, match="unknown lmms-eval model 'zzzz' .* known"):
        LmmsAdapter(model="zzzz")
    with pytest.raises(ConfigError, match="did you mean 'model_args'"):
        LmmsAdapter(model="video_length", model_arg="x=1")


def test_a_failing_model_is_a_sample_error(tmp_path: Path) -> None:
    adapter = LmmsAdapter(model="video_length")
    request = GroundingRequest(
        sample_id="d", query="q", duration=1.0, video_path=tmp_path / "missing.mp4", message=None
    )
    with pytest.raises(AdapterError, match="lmms model failed"):
        asyncio.run(adapter.ground(request))


def test_missing_lmms_eval_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "lmms_eval" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError) as info:
        LmmsAdapter(model="video_length")
    assert str(info.value) == (
        "the lmms adapter needs the optional dependency 'lmms-eval': "
        "pip install 'timelens-eval[lmms]'"
    )
