"""End to end: the runner evaluates a tiny random Qwen2.5-VL on the synthetic benchmark.

``timelens-eval synth generate`` renders the videos, ``timelens-eval run -a transformers``
decodes them with the family preset's pixel budget, builds the TimeLens prompt, runs the
tiny checkpoint (built offline) through the real processor and ``generate`` on the CPU,
parses and scores the answers, and writes a result whose spec records the preset.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from timelens_eval.cli import main  # noqa: E402
from timelens_eval.store import read_result, read_sample_records  # noqa: E402
from timelens_eval.tiny_models import build_tiny_model  # noqa: E402
from timelens_eval.video.types import FrameSpec  # noqa: E402


@pytest.mark.slow
def test_runner_scores_a_tiny_qwen25_vl_on_synthetic_videos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    synth = tmp_path / "synth"
    assert main(["synth", "generate", "--out", str(synth), "--videos", "2"]) == 0
    tiny = build_tiny_model(tmp_path / "tiny", "qwen2_5_vl", seed=0)
    out = tmp_path / "run.json"
    args = f"model={tiny},preset=qwen2.5-vl,vision=images,device=cpu"
    code = main(
        [
            "run",
            "-a",
            "transformers",
            "--adapter-args",
            args,
            "-b",
            "synthetic-refined",
            "--annotations",
            str(synth / "synthetic-refined.json"),
            "-o",
            str(out),
            "--limit",
            "3",
            "--max-frames",
            "4",
            "--concurrency",
            "2",
            "--no-progress",
            "--bootstrap",
            "0",
        ]
    )
    assert code == 0

    header = read_result(out)
    spec = header.spec
    assert spec.adapter == "transformers" and spec.model == str(tiny)
    # The preset's settings, with only the frame cap overridden on the command line.
    # (qwen-vl-utils' frames need torchvision's resize; without it: by timestamp)
    sampler = "qwen-vl-utils" if importlib.util.find_spec("torchvision") else "pts"
    assert spec.frames == FrameSpec(
        fps=2.0,
        max_frames=4,
        min_pixels=64 * 28 * 28,
        total_pixels=14336 * 28 * 28,
        patch=28,
        sampler=sampler,
    )
    assert spec.prompt is not None
    assert (spec.prompt.template, spec.prompt.encoding) == ("timelens", "none")
    assert "transformers" in spec.versions and "torch" in spec.versions
    records = read_sample_records(out.parent / header.samples_file)
    assert len(records) == 3
    for record in records:
        assert record.error is None
        assert isinstance(record.answer, str)
        assert 0.0 <= record.iou <= 1.0
        # 4 frames of >= 64 tokens each, plus the prompt text
        assert record.input_tokens is not None and record.input_tokens > 4 * 64
