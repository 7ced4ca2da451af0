"""The ``vllm`` adapter's prompts through vLLM's own multimodal processor.

vLLM is not part of the test environment (its wheel pins another torch and is several GB),
so this test runs ``tests/support/vllm_processing_check.py`` under the Python interpreter named by
``TIMELENS_EVAL_VLLM_PYTHON``: an environment with vLLM (0.11 or later), this project
installed, qwen-vl-utils 0.0.14 and decord. No GPU and no weights are needed: only vLLM's
input processing runs (``MULTIMODAL_REGISTRY.create_processor(...).apply``), for tiny
checkpoints of each family. Where the variable is unset the test is skipped, and
``test_input_fidelity.py`` checks the same prompts against the Hugging Face processor
vLLM calls. ``docs/adapters.md`` says which vLLM versions were run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from repo_paths import OHOFG, SUPPORT

PYTHON = os.environ.get("TIMELENS_EVAL_VLLM_PYTHON")


@pytest.mark.slow
@pytest.mark.skipif(not PYTHON, reason="TIMELENS_EVAL_VLLM_PYTHON names no vLLM environment")
@pytest.mark.skipif(not OHOFG.is_file(), reason="../shared/data/videos not found")
def test_vllm_processes_our_prompts_into_the_official_input(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(PYTHON), str(SUPPORT / "vllm_processing_check.py"), str(OHOFG)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {r["preset"] for r in report["results"]} == {
        "qwen2.5-vl",
        "qwen3-vl",
        "timelens-7b",
        "timelens-8b",
    }
    failed = [(r["preset"], k) for r in report["results"] for k, v in r.items() if v is False]
    assert not failed, (report["vllm"], failed)
