"""End to end on the real synthetic benchmark: generate a split, run baselines and two
scripted models through the runner, then compare, report and validate the results."""

from __future__ import annotations

import json

import pytest

from timelens_eval.cli import main


def _answers(document: dict, field: str, shift: float = 0.0) -> dict[str, str]:
    out = {}
    for s in document["samples"]:
        start, end = s[field]
        out[s["sample_id"]] = (
            f"The event happens in {start + shift:.2f} - {end + shift:.2f} seconds."
        )
    return out


@pytest.mark.slow
def test_runner_results_compare_report_and_validate(tmp_path, capsys):
    synth = tmp_path / "synth"
    assert main(["synth", "generate", "--out", str(synth), "--videos", "8"]) == 0
    original = json.loads((synth / "synthetic-original.json").read_text())
    # A model that learned the original annotations' errors, and one that finds the true event.
    follower, accurate = tmp_path / "follower.json", tmp_path / "accurate.json"
    follower.write_text(json.dumps(_answers(original, "gt")))
    accurate.write_text(json.dumps(_answers(original, "refined_gt", shift=0.3)))
    models = {
        "uniform": ["-a", "uniform"],
        "random": ["-a", "random"],
        "center": ["-a", "mock", "--adapter-args", "rule=center,model=Center"],
        "follower": ["-a", "mock", "--adapter-args", f"answers={follower},model=Follows-Original"],
        "accurate": ["-a", "mock", "--adapter-args", f"answers={accurate},model=Accurate"],
    }
    results = tmp_path / "results"
    for name, args in models.items():
        for bench in ("synthetic-original", "synthetic-refined"):
            out = results / name / f"{bench}.json"
            ann = synth / f"{bench}.json"
            code = main(
                [
                    "run",
                    *args,
                    "-b",
                    bench,
                    "--annotations",
                    str(ann),
                    "-o",
                    str(out),
                    "--no-progress",
                    "--bootstrap",
                    "0",
                ]
            )
            assert code == 0, (name, bench)
    capsys.readouterr()

    ann = [
        f"--annotations=synthetic-{v}={synth}/synthetic-{v}.json" for v in ("original", "refined")
    ]
    assert main(["compare", str(results), "--json", "--bootstrap", "200", *ann]) == 0
    (pair,) = json.loads(capsys.readouterr().out)["pairs"]
    ranks = {m["model"]: (m["rank_original"], m["rank_refined"]) for m in pair["models"]}
    assert ranks["Follows-Original"][0] == 1 and ranks["Follows-Original"][1] > 1
    assert ranks["Accurate"][1] == 1
    tau = pair["kendall_tau"]
    assert (
        "bootstrap over videos" in tau["method"] and tau["ci_low"] <= tau["value"] <= tau["ci_high"]
    )
    cats = {c["category"] for c in pair["per_sample"]["categories"]}
    assert "none" in cats and "inaccurate_boundaries" in cats
    follower_rows = [
        c for c in pair["per_sample"]["categories"] if c["model"] == "Follows-Original"
    ]
    assert all(c["delta"] <= 1e-9 for c in follower_rows)  # never better on the refined GT

    out = tmp_path / "report"
    assert main(["report", str(results), "--out", str(out), "--bootstrap", "100", *ann]) == 0
    md = (out / "report.md").read_text()
    assert "Kendall's tau:" in md and "| inaccurate_boundaries |" in md

    capsys.readouterr()
    headers = sorted(str(p) for p in results.rglob("*.json"))  # no sidecar ends in .json
    code = main(["leaderboard", "validate", *ann, *headers])
    assert code == 0, capsys.readouterr().out
