"""The ``timelens-eval frames`` command: timestamps, JSON, contact sheet, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from repo_paths import OHOFG as REAL

from timelens_eval.cli import main
from timelens_eval.video.testing import write_indexed_video


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    return write_indexed_video(root / "v.mp4", [i * 0.04 for i in range(150)], audio=True)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["frames", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_lists_timestamps_and_prompt(video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        capsys,
        str(video),
        "--fps",
        "2",
        "--encoding",
        "interleaved",
        "--template",
        "timelens-7b",
        "--query",
        "a bar moves",
    )
    assert out["frames"] == 12 and out["duration"] == pytest.approx(6.0, abs=1e-3)
    assert out["timestamps"] == pytest.approx(
        [0, 0.48, 1, 1.48, 2, 2.48, 3, 3.48, 4, 4.48, 5, 5.48]
    )
    assert out["prompt"].startswith("0.0s<image>0.5s<image>1.0s<image>")
    assert "sentence 'a bar moves'" in out["prompt"]
    assert out["encoding"] == "interleaved" and len(out["template_hash"]) == 16
    assert out["frame_spec"]["fps"] == 2.0 and out["tokens_per_frame"] is None


def test_family_budget_and_clip(video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, str(video), "--family", "qwen3-vl", "--start", "1", "--end", "3")
    assert out["timestamps"] == pytest.approx([1.0, 1.48, 2.0, 2.48])
    assert out["height"] % 32 == 0 and out["width"] % 32 == 0
    assert out["tokens_per_frame"] == (out["height"] // 32) * (out["width"] // 32) >= 64
    assert out["clip"] == [1.0, 3.0]


def test_sheet_is_written(video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "sheet.png"
    assert (
        main(
            [
                "frames",
                str(video),
                "--fps",
                "1",
                "--encoding",
                "overlay",
                "--sheet",
                str(sheet),
                "--columns",
                "3",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "contact sheet:" in text and "6 frames of 192x96" in text
    with Image.open(sheet) as img:
        width, height = img.size
        pixels = np.asarray(img.convert("RGB"))
    assert width == 2 * 12 + 3 * 256 + 2 * 8  # three tiles per row
    assert height > 2 * (44 + 128)  # two rows of 256x128 tiles with labels
    assert (pixels < 50).any() and (pixels > 240).any()


def test_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], video: Path
) -> None:
    assert main(["frames", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: {tmp_path / 'missing.mp4'}: file not found"]
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 20)
    assert main(["frames", str(bad)]) == 2
    assert "not a readable video file" in capsys.readouterr().err
    assert main(["frames", str(video), "--encoding", "interleave"]) == 2
    assert "did you mean 'interleaved'" in capsys.readouterr().err
    assert main(["frames", str(video), "--fps", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: bad frame options")


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data (real OHOFG.mp4) not present")
def test_real_video_done_when(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = run_json(capsys, str(REAL), "--fps", "2", "--sheet", str(tmp_path / "s.png"))
    ts = out["timestamps"]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))
    assert ts[0] == 0.0 and ts[-1] > 34.5 and out["duration"] == pytest.approx(35.14, abs=0.05)
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_importing_the_video_package_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, timelens_eval; before = set(sys.modules); "
        "import timelens_eval.video, timelens_eval.prompts, timelens_eval.cli.frames; "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in ('av', 'PIL', 'cv2', 'torch') if m in new))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
