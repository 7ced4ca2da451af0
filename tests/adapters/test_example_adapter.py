"""The worked example in ``examples/timelens-eval-example-adapter``: installed with pip,
discovered through its entry point and run by the real ``timelens-eval`` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from repo_paths import ROOT

from timelens_eval.store import read_result, read_sample_records

pytestmark = pytest.mark.timeout(180)

EXAMPLE = ROOT / "examples" / "timelens-eval-example-adapter"

# (video id, duration, moving-square burst = the ground truth)
VIDEOS = [("burstA", 8.0, (2.0, 4.0)), ("burstB", 10.0, (6.0, 8.5)), ("burstC", 6.0, (0.5, 2.0))]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``pip install`` the example (from a copy, so the build leaves no files in the repo)."""
    work = tmp_path_factory.mktemp("example")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert (target / "timelens_eval_example_adapter" / "__init__.py").is_file()
    return target


def env_with(site: Path) -> dict[str, str]:
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "timelens_eval", *args],
        env=env_with(site),
        capture_output=True,
        text=True,
        timeout=150,
    )


def write_burst_video(path: Path, duration: float, burst: tuple[float, float]) -> None:
    """A still grey 10 fps video with a white square moving during ``burst``."""
    import av

    fps = 10
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(int(duration * fps)):
            t = i / fps
            image = np.full((64, 64, 3), 90, np.uint8)
            if burst[0] <= t < burst[1]:
                x = (5 * i) % 48
                image[24:40, x : x + 16] = 245
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_the_example_packages_own_tests_pass(site):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        env=env_with(site),
        capture_output=True,
        text=True,
        timeout=150,
        cwd=site.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_discovered_through_its_entry_point(site):
    listed = cli(site, "adapters", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "motion-peak" in line)
    assert "timelens-eval-example-adapter" in row  # the distribution it comes from
    typo = cli(site, "run", "--adapter", "motion-peek", "--benchmark", "charades-timelens")
    assert typo.returncode == 2
    assert "did you mean 'motion-peak'" in typo.stderr and "Traceback" not in typo.stderr


def test_timelens_eval_run_evaluates_the_third_party_model(site, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    annotations = {}
    for vid, duration, burst in VIDEOS:
        write_burst_video(videos / f"{vid}.mp4", duration, burst)
        annotations[vid] = {
            "duration": duration,
            "spans": [list(burst)],
            "queries": ["the white square moves"],
        }
    ann = tmp_path / "bursts.json"
    ann.write_text(json.dumps(annotations))
    output = tmp_path / "runs" / "motion-peak.json"

    result = cli(
        site,
        "run",
        "--adapter",
        "motion-peak",
        "--adapter-args",
        "window=0.25",
        "--benchmark",
        "charades-timelens",
        "--annotations",
        str(ann),
        "--video-root",
        str(videos),
        "--output",
        str(output),
        "--bootstrap",
        "0",
        "--workers",
        "1",
        "--no-progress",
    )
    assert result.returncode == 0, result.stdout + result.stderr

    header = read_result(output)
    assert header.spec.adapter == "motion-peak"
    assert header.spec.adapter_args == {"window": 0.25, "model": "motion-peak"}
    assert header.spec.model_type == "baseline"
    assert header.spec.frames is not None and header.spec.frames.max_pixels == 64 * 64
    records = read_sample_records(output.parent / header.samples_file)
    assert sorted(r.video_id for r in records) == sorted(v for v, _, _ in VIDEOS)
    for record in records:
        assert record.status == "ok", record
        assert record.iou >= 0.5, record  # the answer sits on the motion
    assert header.summary.value("R1@0.5") == 100.0
