"""Run TimeLens' own scoring code (an outside checkout) on a prediction file.

Used by ``tests/scoring/test_parsing_timelens_equivalence.py`` and to record
``tests/fixtures/timelens_tricky_expected.json``:

    TIMELENS_REPO=/path/to/TimeLens python tests/support/timelens_reference.py

``TIMELENS_REPO`` is a checkout of TencentARC/TimeLens or a bare git directory of it.
Its ``evaluation/`` and ``timelens/`` folders are exported to a temporary folder
(outside this repository), and the prediction file is copied there too, because
``compute_metrics.py`` writes a ``.log`` file next to its input. Only the standard
library is needed: ``compute_metrics.py`` imports ``timelens.utils`` (json, re),
not ``evaluation/utils.py`` (which needs qwen_vl_utils and torch).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from repo_paths import FIXTURES

CORPUS = FIXTURES / "timelens_tricky_answers.json"
EXPECTED = FIXTURES / "timelens_tricky_expected.json"
_NAMES = {"IOU 0.3": "R1@0.3", "IOU 0.5": "R1@0.5", "IOU 0.7": "R1@0.7", "mIOU": "mIoU"}

_PER_ANSWER = """
import json, sys
from timelens.utils import extract_time
data = json.load(open(sys.argv[1], encoding="utf-8"))
out = {k: [list(p) for p in extract_time(v["answers"])] for k, v in data.items()
       if "timestamps" not in v}
json.dump(out, sys.stdout)
"""


def export_code(repo: Path, dest: Path) -> tuple[Path, str]:
    """The folder holding ``evaluation/`` and ``timelens/``, and the commit it came from."""
    if (repo / "evaluation" / "compute_metrics.py").is_file():
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        return repo, commit or "unknown"
    git = ["git", f"--git-dir={repo}"]
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        [*git, "archive", "HEAD", "evaluation", "timelens"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest, commit


def parse_numbers(stdout: str) -> dict[str, float]:
    """The four numbers compute_metrics.py prints at the end."""
    out = {}
    for line in stdout.splitlines():
        found = re.match(r"^(IOU 0\.[357]|mIOU): (\S+)$", line)
        if found:
            out[_NAMES[found.group(1)]] = float(found.group(2))
    if len(out) != 4:
        raise RuntimeError(f"unexpected compute_metrics.py output: {stdout[-500:]!r}")
    return out


def run_reference(repo: Path, predictions: Path) -> dict:
    """Numbers and per-answer ``extract_time`` spans from TimeLens' code."""
    with tempfile.TemporaryDirectory() as tmp:
        code, commit = export_code(repo, Path(tmp))
        copy = Path(tmp) / predictions.name
        shutil.copy(predictions, copy)
        env = {"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"}
        cmd = [sys.executable, "evaluation/compute_metrics.py", "-f", str(copy)]
        done = subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True, check=True)
        per = subprocess.run(
            [sys.executable, "-c", _PER_ANSWER, str(copy)],
            cwd=code,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return {
        "numbers": parse_numbers(done.stdout),
        "extract_time": json.loads(per.stdout),
        "timelens_commit": commit,
        "command": f"cd <TimeLens checkout> && PYTHONPATH=. python evaluation/compute_metrics.py "
        f"-f {predictions.name}",
    }


def load_extract_time(repo: Path, dest: Path):
    """TimeLens' ``extract_time``, imported from ``timelens/utils.py`` copied into ``dest``.

    Only that file is copied and imported by path (its package ``__init__`` would import
    the training code); it needs the standard library alone.
    """
    import importlib.util

    source = repo / "timelens" / "utils.py"
    if source.is_file():
        text = source.read_bytes()
    else:
        text = subprocess.run(
            ["git", f"--git-dir={repo}", "show", "HEAD:timelens/utils.py"],
            capture_output=True,
            check=True,
        ).stdout
    path = dest / "timelens_utils.py"
    path.write_bytes(text)
    spec = importlib.util.spec_from_file_location("timelens_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.extract_time


def main() -> None:
    """Record the reference output for the tricky-answers corpus."""
    import os

    repo = os.environ.get("TIMELENS_REPO")
    if not repo:
        raise SystemExit("set TIMELENS_REPO to a TimeLens checkout or bare git dir")
    result = run_reference(Path(repo), CORPUS)
    result["recorded_with"] = "TIMELENS_REPO=... python tests/support/timelens_reference.py"
    EXPECTED.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result["numbers"]))


if __name__ == "__main__":
    main()
