"""On a CUDA device: ``run`` with the transformers adapter, and one GRPO step of each recipe.

These are the checks a GPU box adds to the suite (``pytest -m gpu``); without a CUDA
device they are skipped, and ``TIMELENS_EVAL_GPU_TESTS_ON_CPU=1`` runs the same code on
the CPU (bf16 and tf32 off) to check the test itself. Models are tiny random Qwen2.5-VL
and Qwen3-VL checkpoints built offline; videos are the synthetic benchmark's, rendered
on first use. docs/testing.md records when they last ran on a GPU and what they showed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from timelens_eval.cli import main  # noqa: E402
from timelens_eval.store import read_result, read_sample_records  # noqa: E402

ON_CPU = os.environ.get("TIMELENS_EVAL_GPU_TESTS_ON_CPU") == "1"
DEVICE = "cpu" if ON_CPU else "cuda"

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not ON_CPU and not torch.cuda.is_available(), reason="needs a CUDA device"),
    # TRL 1.16 calls transformers' gradient-checkpointing names that now warn.
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:`gradient_checkpointing_.*` is deprecated:FutureWarning"),
    # Reentrant checkpointing (the recipes' use_reentrant: true) of the frozen vision
    # blocks: no gradient is wanted there. The test checks that gradients reach the rest.
    pytest.mark.filterwarnings("ignore:None of the inputs have requires_grad=True:UserWarning"),
]

FAMILY = {
    "qwen2.5-vl": "qwen2_5_vl",
    "qwen3-vl": "qwen3_vl",
    "timelens-7b": "qwen2_5_vl",
    "timelens-8b": "qwen3_vl",
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert main(["synth", "generate", "--out", str(out), "--videos", "2"]) == 0
    return out


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _peak_device_bytes() -> int:
    return 0 if ON_CPU else int(torch.cuda.max_memory_allocated())


@pytest.mark.parametrize("preset", list(FAMILY))
def test_run_scores_a_tiny_checkpoint_on_the_device(
    preset: str, synth: Path, tmp_path: Path
) -> None:
    """``timelens-eval run -a transformers`` on the device: frames at the preset's
    budget, the family's processor, ``generate`` on the GPU, every answer parsed."""
    from timelens_eval.tiny_models import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny", FAMILY[preset], seed=0)
    out = tmp_path / "run.json"
    if not ON_CPU:
        torch.cuda.reset_peak_memory_stats()
    code = main(
        [
            "run",
            "-a",
            "transformers",
            "--adapter-args",
            f"model={tiny},preset={preset},device={DEVICE}",
            "-b",
            "synthetic-refined",
            "--annotations",
            str(synth / "synthetic-refined.json"),
            "-o",
            str(out),
            "--limit",
            "4",
            "--max-new-tokens",
            "24",
            "--no-progress",
            "--bootstrap",
            "0",
        ]
    )
    assert code == 0
    header = read_result(out)
    assert header.spec.adapter_args["device"] == DEVICE
    assert header.spec.adapter_args["preset"] == preset
    records = read_sample_records(out.parent / header.samples_file)
    assert len(records) == 4
    # A random model's answers are noise, but each one is a generated answer, parsed.
    assert all(r.status != "error" and r.answer is not None for r in records), [
        r.error for r in records
    ]
    assert all(r.meta["frames"] > 0 for r in records)
    print(json.dumps({"preset": preset, "device": DEVICE, "answers": [r.answer for r in records]}))
    if not ON_CPU:
        assert _peak_device_bytes() > 0  # the model and its activations lived on the GPU


@pytest.mark.parametrize("recipe", ["timelens-7b.yaml", "timelens-8b.yaml"])
def test_one_grpo_step_of_each_recipe_on_the_device(recipe: str, tmp_path: Path) -> None:
    """``rlvr train`` through the shipped recipe file on its tiny model (TimeLens-7B: a
    Qwen2.5-VL with timestamp texts between frame pairs; TimeLens-8B: a Qwen3-VL),
    changed only where a tiny model on one device needs it
    (:func:`timelens_eval.rlvr.testing.tiny_recipe`): bf16 and tf32 on the GPU."""
    from timelens_eval.rlvr.pipeline import train
    from timelens_eval.rlvr.testing import tiny_recipe

    config = tiny_recipe(recipe, tmp_path, gpu=not ON_CPU)
    assert config.preset == recipe.removesuffix(".yaml")
    if not ON_CPU:
        torch.cuda.reset_peak_memory_stats()
    outcome = train(config)
    assert outcome.steps == 1
    rows = [json.loads(x) for x in outcome.metrics_file.read_text().splitlines()]
    logged = [r for r in rows if "rewards/tiou/mean" in r]
    assert logged and all(0.0 <= r["rewards/tiou/mean"] <= 1.0 for r in logged)
    # A random model's rewards are mostly 0 (then so is the gradient: the CPU tests of the
    # trainer check that gradients flow); here the step itself must have run: completions
    # generated and scored, a finite loss and entropy.
    step = logged[0]
    assert step["num_tokens"] > 0 and step["completions/mean_length"] > 0
    assert math.isfinite(step["loss"]) and math.isfinite(step["entropy"])
    print(json.dumps({"recipe": recipe, "device": DEVICE, "step": step}))
    assert list(outcome.final_checkpoint.glob("*.safetensors"))
    if not ON_CPU:
        assert _peak_device_bytes() > 0
