"""A real model gets exactly the input the TimeLens evaluation gives it, on both engines.

The oracle is the official recipe run with its real pieces (:mod:`official_pipeline`):
qwen-vl-utils 0.0.14 reading the video with decord at the evaluation's settings (2 fps,
64 to 14,336 visual tokens), and the Hugging Face Qwen2.5-VL / Qwen3-VL processors with
``do_resize=False``, on tiny offline processors of each family. Our side is the adapters'
real request path (:mod:`fidelity_check`). Compared: frame indices, pixel values,
``video_grid_thw``, input ids (with the timestamp text the processors write) and
Qwen2.5-VL's ``second_per_grid_ts``; on the real Charades video ``OHOFG.mp4`` and on a
generated video longer than 384 s (so the 768-frame cap applies).

The same comparisons run under transformers 4.57.1 (TimeLens' pin) in
``test_input_fidelity_457.py``, and through vLLM's own multimodal processor in
``test_vllm_processing.py``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from repo_paths import OHOFG

pytest.importorskip("torchvision", reason="the Qwen video processors need torchvision")
pytest.importorskip("qwen_vl_utils", reason="qwen-vl-utils is the oracle (test extra)")
pytest.importorskip("decord", reason="decord is the oracle's video reader (test extra)")

import fidelity_check  # noqa: E402
import official_pipeline  # noqa: E402

from timelens_eval.tiny_models import build_tiny_processor  # noqa: E402
from timelens_eval.video.testing import write_indexed_video  # noqa: E402

needs_ohofg = pytest.mark.skipif(not OHOFG.is_file(), reason="../shared/data/videos not found")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Small tensors on a busy 2-core machine: one thread is many times faster, same values.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def processors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from transformers import AutoProcessor

    return {
        family: AutoProcessor.from_pretrained(
            build_tiny_processor(tmp_path_factory.mktemp(family), family)
        )
        for family in ("qwen2_5_vl", "qwen3_vl")
    }


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 s at 5 fps (2,000 frames): 2 fps would give 800 frames, above the 768 cap."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return write_indexed_video(path, np.arange(2000) / 5.0, height=96, width=176)


def _assert_same(result: dict[str, object]) -> None:
    failed = [k for k, v in result.items() if v is False]
    assert not failed, f"differs from the official input: {failed} ({result})"


@needs_ohofg
@pytest.mark.parametrize("engine", ["transformers", "vllm"])
@pytest.mark.parametrize("preset", ["qwen2.5-vl", "qwen3-vl", "timelens-8b"])
def test_real_video_input_equals_the_official_one(processors, preset: str, engine: str) -> None:
    result = fidelity_check.compare(
        processors[fidelity_check.FAMILY[preset]], preset, OHOFG, engine
    )
    if engine == "vllm":
        # vLLM runs transformers < 5, which takes Qwen2.5-VL's rate from ``fps``; 5.x reads
        # it from metadata vLLM does not pass. Checked under 4.57 and vLLM elsewhere.
        result.pop("second_per_grid_ts", None)
    _assert_same(result)
    assert result["n_frames"] == result["official_n_frames"] == 70


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "engine"), [("qwen2.5-vl", "transformers"), ("qwen3-vl", "vllm")]
)
def test_long_video_input_equals_the_official_one(
    processors, long_video: Path, preset: str, engine: str
) -> None:
    result = fidelity_check.compare(
        processors[fidelity_check.FAMILY[preset]], preset, long_video, engine
    )
    result.pop("second_per_grid_ts", None) if engine == "vllm" else None
    _assert_same(result)
    assert result["n_frames"] == 768  # the cap, and an even count


@needs_ohofg
def test_timelens_7b_layout_on_a_real_video(processors) -> None:
    result = fidelity_check.compare_7b(processors["qwen2_5_vl"], OHOFG)
    _assert_same(result)
    assert result["chunks"] == 35  # 70 frames, one timestamp per 2-frame temporal patch


@pytest.mark.slow
def test_timelens_7b_layout_on_a_long_video(processors, long_video: Path) -> None:
    result = fidelity_check.compare_7b(processors["qwen2_5_vl"], long_video)
    _assert_same(result)
    assert result["chunks"] == 384


@needs_ohofg
def test_qwen3_prompt_shows_the_official_patch_times(processors) -> None:
    """Qwen3-VL's ``<t seconds>`` come from the source indices and the stream's rate."""
    mine = fidelity_check.ours(processors["qwen3_vl"], "qwen3-vl", OHOFG)
    official = official_pipeline.official_input(
        processors["qwen3_vl"], "qwen3-vl", OHOFG, fidelity_check.QUERY
    )
    text = processors["qwen3_vl"].tokenizer.decode(mine.processed["input_ids"][0])
    indices = official.metadata["frames_indices"]
    fps = official.metadata["fps"]
    expected = [(indices[i] + indices[i + 1]) / 2 / fps for i in range(0, len(indices), 2)]
    shown = [float(t) for t in __import__("re").findall(r"<([0-9.]+) seconds>", text)]
    assert shown == [float(f"{t:.1f}") for t in expected]
    assert shown[:3] == [0.3, 1.3, 2.3]


# ---- the checkpoint's own processor (TimeLens-7B with trust_remote_code) -------------------

_OWN_PROCESSOR = '''
"""A checkpoint-supplied processor standing in for TimeLens-7B's: it takes the whole video
with its metadata and writes one timestamp per 2-frame temporal patch itself."""

from transformers import Qwen2_5_VLProcessor


class TimestampedProcessor(Qwen2_5_VLProcessor):
    calls = []

    def __call__(self, text=None, images=None, videos=None, **kwargs):
        if videos and isinstance(videos[0], tuple):
            type(self).calls.append([(v.clone(), dict(m)) for v, m in videos])
            frames, meta = videos[0]
            indices = [int(i) for i in meta["frames_indices"]]
            chunks = [frames[i : i + 2] for i in range(0, len(frames), 2)]
            stamps = [i / float(meta["fps"]) for i in indices[::2]]
            pad = "<|vision_start|><|video_pad|><|vision_end|>"
            layout = "".join(f"{t:.1f}s" + pad for t in stamps)
            text = [t.replace(pad, layout, 1) for t in text]
            kwargs.setdefault("do_sample_frames", False)
            videos = chunks
        return super().__call__(text=text, images=images, videos=videos, **kwargs)
'''


@pytest.fixture(scope="module")
def own_processor_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from timelens_eval.tiny_models import TinyModelSpec, build_tiny_model

    folder = tmp_path_factory.mktemp("timelens-7b-own")
    build_tiny_model(folder, spec=TinyModelSpec(family="qwen2_5_vl", chat_template="family"))
    (folder / "processing_timestamped.py").write_text(_OWN_PROCESSOR)
    for name in ("processor_config.json", "preprocessor_config.json"):
        config = json.loads((folder / name).read_text())
        config["auto_map"] = {"AutoProcessor": "processing_timestamped.TimestampedProcessor"}
        config["processor_class"] = "TimestampedProcessor"
        (folder / name).write_text(json.dumps(config))
    return folder


@needs_ohofg
def test_own_processor_gets_what_the_official_evaluation_hands_it(
    own_processor_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from timelens_eval.adapters.transformers_hf import TransformersAdapter, declares_own_processor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert declares_own_processor(str(own_processor_checkpoint))
    adapter = TransformersAdapter(
        model=str(own_processor_checkpoint), preset="timelens-7b", device="cpu"
    )
    # The preset's default for such a checkpoint: trust it, as the TimeLens evaluation
    # does, and let it lay out the whole video.
    assert adapter.trust_remote_code is True and adapter.own_processor
    assert (adapter.vision, adapter.default_encoding) == ("video", "none")
    processor = adapter._processor
    cls = type(processor)
    cls.calls.clear()
    official = official_pipeline.official_input(processor, "timelens-7b", OHOFG, "a person sits")
    # (the evaluation loads the processor with do_resize=False; here it is a call option)
    expected = processor(
        text=[official.text],
        videos=[(official.frames, official.metadata)],
        padding=True,
        return_tensors="pt",
        do_resize=False,
    )
    mine = fidelity_check.ours(processor, "timelens-7b", OHOFG, own_processor=True)
    official_call, our_call = cls.calls
    (frames_a, meta_a), (frames_b, meta_b) = official_call[0], our_call[0]
    assert torch.equal(frames_a, frames_b)
    assert [int(i) for i in meta_a["frames_indices"]] == list(meta_b["frames_indices"])
    assert meta_a["fps"] == meta_b["fps"]
    assert meta_a["total_num_frames"] == meta_b["total_num_frames"]
    # the query differs in this check (fidelity_check uses its own), so compare the video
    # part of the prompts: everything up to the instruction
    cut = processor.tokenizer.convert_tokens_to_ids("<|vision_end|>")
    a = expected["input_ids"][0].tolist()
    b = mine.processed["input_ids"][0].tolist()
    last = max(i for i, t in enumerate(a) if t == cut)
    assert a[: last + 1] == b[: last + 1]
    assert torch.equal(expected["pixel_values_videos"], mine.processed["pixel_values_videos"])
    assert adapter.args["trust_remote_code"] is True  # recorded in the run's spec


def test_a_stock_processor_is_not_trusted_by_default(tmp_path: Path) -> None:
    from timelens_eval.adapters.transformers_hf import declares_own_processor
    from timelens_eval.tiny_models import build_tiny_processor

    folder = build_tiny_processor(tmp_path / "p", "qwen2_5_vl")
    assert not declares_own_processor(str(folder))


# ---- timelens-eval inputs ------------------------------------------------------------------


@needs_ohofg
@pytest.mark.parametrize("preset", ["qwen3-vl", "qwen2.5-vl"])
def test_inputs_command_reports_the_official_frames_and_tokens(
    processors, preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("timelens-eval")),
            "inputs",
            str(OHOFG),
            "--preset",
            preset,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in (
        "n_frames",
        "timestamps",
        "video_grid_thw",
        "visual_tokens",
        "prompt",
        "input_ids_sha256",
    ):
        assert key in report
    processor = processors[fidelity_check.FAMILY[preset]]
    official = official_pipeline.official_input(processor, preset, OHOFG, "a person opens the door")
    grid = official.processed["video_grid_thw"].tolist()
    indices = [int(i) for i in official.metadata["frames_indices"]]
    assert report["n_frames"] == official.frames.shape[0] == 70
    assert report["frame_indices"] == indices
    assert report["timestamps"] == [round(i / official.metadata["fps"], 6) for i in indices]
    assert report["video_grid_thw"] == grid
    assert report["visual_tokens"] == sum(t * h * w for t, h, w in grid) // 4
    ids = official.processed["input_ids"][0].tolist()
    assert report["input_ids_sha256"] == fidelity_check.ids_sha(ids)
    assert "Please find the visual event described by the sentence" in report["prompt"]
    if preset == "qwen3-vl":
        assert report["prompt"].startswith("<|im_start|>user\n<0.3 seconds><|vision_start|>")
    else:
        assert report["prompt"].startswith("<|im_start|>system\nYou are a helpful assistant.")


def test_inputs_without_torchvision_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from timelens_eval.adapters.inputs import describe_inputs
    from timelens_eval.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torchvision" else real(name)
    )
    with pytest.raises(MissingDependencyError, match=r"timelens-eval\[transformers-video\]"):
        describe_inputs("any.mp4", "qwen3-vl")
