"""``scripts/rollout_headroom.py``: greedy and sampled rollouts of a tiny checkpoint."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from repo_paths import ROOT

pytest.importorskip("torch")
pytest.importorskip("transformers")

from timelens_eval.benchmarks import load_benchmark  # noqa: E402
from timelens_eval.cli import main as cli_main  # noqa: E402
from timelens_eval.store import read_result, read_sample_records  # noqa: E402

SCRIPT = ROOT / "scripts" / "rollout_headroom.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("rollout_headroom", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


REFERENCE = ROOT / "timelens_eval" / "data" / "reference-tiny"


@pytest.mark.slow
def test_rollouts_of_the_reference_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    synth = tmp_path / "synth"
    assert cli_main(["synth", "generate", "--out", str(synth), "--videos", "2"]) == 0
    annotations = synth / "synthetic-refined.json"
    script = _load_script()
    out = tmp_path / "headroom.json"
    args = ["--model", str(REFERENCE), "--annotations", str(annotations), "--limit", "3"]
    assert script.main([*args, "--k", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["per_sample"]
    bench = load_benchmark("synthetic-refined", annotations)
    assert [r["sample_id"] for r in rows] == [s.sample_id for s in bench.samples[:3]]
    assert all(len(r["sampled"]) == 4 for r in rows)
    assert all(0.0 <= v <= 1.0 for r in rows for v in [r["greedy"], *r["sampled"]])
    # sampling at temperature 1 gives different answers, so different rewards somewhere
    assert result["zero_spread"] < 100.0
    # the summary is what the per-sample rewards say
    hits = [[v >= 0.5 for v in r["sampled"]] for r in rows]
    assert result["pass_at_k"] == pytest.approx(100 * sum(any(h) for h in hits) / 3)
    assert result["sampled_r1"] == pytest.approx(100 * sum(map(sum, hits)) / 12)
    assert result["greedy_r1"] == pytest.approx(100 * sum(r["greedy"] >= 0.5 for r in rows) / 3)

    # the greedy reward is the IoU the runner scores for the same checkpoint and samples
    run = tmp_path / "run.json"
    code = cli_main(
        [
            "run",
            "-a",
            "transformers",
            "--adapter-args",
            f"model={REFERENCE},device=cpu",
            "-b",
            "synthetic-refined",
            "--annotations",
            str(annotations),
            "-o",
            str(run),
            "--limit",
            "3",
            "--no-progress",
            "--bootstrap",
            "0",
        ]
    )
    assert code == 0
    header = read_result(run)
    records = read_sample_records(run.parent / header.samples_file)
    scored = {r.sample_id: r.iou for r in records}
    for row in rows:
        assert row["greedy"] == pytest.approx(scored[row["sample_id"]], abs=1e-9)

    # seeded: the same call gives the same rollouts
    again = script.measure(
        str(REFERENCE),
        "synthetic-refined",
        annotations=annotations,
        limit=3,
        k=4,
        progress=False,
    )
    assert again["per_sample"] == rows


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _load_script()
    assert script.main(["--model", str(tmp_path / "missing"), "--k", "0"]) == 2
    assert "k must be at least 1" in capsys.readouterr().err
    assert script.main(["--model", str(tmp_path / "missing"), "--limit", "0"]) == 2
    assert "limit must be at least 1" in capsys.readouterr().err
    assert script.main(["--model", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
