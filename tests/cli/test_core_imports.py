"""Importing the package and building the CLI must not import any heavy stack."""

import json
import subprocess
import sys

HEAVY = [
    "torch",
    "transformers",
    "trl",
    "vllm",
    "openai",
    "google.genai",
    "lmms_eval",
    "plotly",
    "av",
    "starlette",
    "uvicorn",
    "msgspec",
]


def test_import_and_cli_stay_light():
    code = (
        "import json, sys, timelens_eval, timelens_eval.cli as c; c.build_app();"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_cli_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "timelens_eval", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in [
        "run",
        "merge",
        "score",
        "serve",
        "frames",
        "compare",
        "report",
        "adapters",
        "benchmarks",
        "synth",
        "leaderboard",
        "rlvr",
    ]:
        assert f"  {command} " in out.stdout or f"  {command}\n" in out.stdout, command
