"""The input-fidelity checks and a tiny-model run under transformers 4.57.1, TimeLens' pin.

TimeLens pins ``transformers==4.57.1``; this suite's environment has 5.x. The test puts
4.57.1 (with the ``huggingface-hub`` and ``tokenizers`` releases it needs) into a folder of
its own, once (``pip install --target``, from the package index), and runs
``tests/support/fidelity_check.py`` in a subprocess with that folder first on ``PYTHONPATH``: the
official pipeline and ours are compared there as in ``test_input_fidelity.py``, including
Qwen2.5-VL's ``second_per_grid_ts`` on the vLLM path (vLLM runs transformers < 5), and a
tiny random checkpoint of each preset, built there by ``timelens_eval.tiny_models``,
answers through the ``transformers`` adapter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from repo_paths import OHOFG, SUPPORT

pytest.importorskip("torchvision", reason="the Qwen video processors need torchvision")
pytest.importorskip("qwen_vl_utils", reason="qwen-vl-utils is the oracle (test extra)")
pytest.importorskip("decord", reason="decord is the oracle's video reader (test extra)")

PINNED = ("transformers==4.57.1", "huggingface-hub==0.36.0", "tokenizers==0.22.1")


def _pinned_transformers() -> Path:
    """A folder holding transformers 4.57.1 and its hub and tokenizers releases."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "timelens-eval" / "test-envs" / "transformers-4.57.1"
    marker = folder / ".complete"
    if not marker.exists():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--upgrade",
                "--target",
                str(folder),
                *PINNED,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"pip install --target failed: {done.stderr[-2000:]}"
        marker.write_text("\n".join(PINNED) + "\n")
    return folder


@pytest.mark.slow
@pytest.mark.skipif(not OHOFG.is_file(), reason="../shared/data/videos not found")
def test_inputs_match_the_official_pipeline_under_transformers_4_57(tmp_path: Path) -> None:
    folder = _pinned_transformers()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, str(SUPPORT / "fidelity_check.py"), str(OHOFG), "--generate"],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["transformers"] == "4.57.1"
    failed = [
        (r["preset"], r.get("engine"), k)
        for r in report["results"]
        for k, v in r.items()
        if v is False
    ]
    assert not failed, failed
    presets = {(r["preset"], r.get("engine")) for r in report["results"]}
    assert ("qwen2.5-vl", "vllm") in presets and ("timelens-7b", None) in presets
    checked = [r for r in report["results"] if r["preset"] == "qwen2.5-vl" and "engine" in r]
    assert all(r["second_per_grid_ts"] is True for r in checked)  # both engines, on 4.57
    answered = [r for r in report["results"] if "answered" in r]
    assert len(answered) == 4 and all(r["answered"] and r["prompt_tokens"] for r in answered)
