"""compare: ranks and rank correlations, checked against scipy and the published table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from compare_support import write_synthetic_pair
from repo_paths import REPORTED, ROOT
from scipy import stats

from timelens_eval.cli import main
from timelens_eval.compare import CompareOptions, compare_results, load_results
from timelens_eval.compare_stats import kendall_tau_b, rank_desc, spearman_rho
from timelens_eval.errors import InputError

PUBLISHED = ROOT.parent / "shared" / "reference" / "published_results.json"


@pytest.mark.parametrize("seed", range(5))
def test_rank_statistics_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=12).astype(float)  # many ties
    y = x + rng.integers(-3, 4, size=12)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert np.allclose(rank_desc(x), stats.rankdata(-x, method="average"))


def test_published_charades_ranks_and_tau_are_reproduced():
    if not PUBLISHED.exists():
        pytest.skip(f"{PUBLISHED} not available")
    rows = json.loads(PUBLISHED.read_text())["results"]
    miou = {}
    for row in rows:
        if (
            row["benchmark"] in ("charades-sta", "charades-timelens")
            and row["metrics"]["mIoU"] is not None
        ):
            miou[(row["model"], row["benchmark"])] = row["metrics"]["mIoU"]
    models = sorted(
        {m for m, b in miou if (m, "charades-sta") in miou and (m, "charades-timelens") in miou}
    )
    assert len(models) == 11
    x = np.array([miou[(m, "charades-sta")] for m in models])
    y = np.array([miou[(m, "charades-timelens")] for m in models])
    expected_orig = dict(zip(models, stats.rankdata(-x, method="min").astype(int), strict=True))
    expected_ref = dict(zip(models, stats.rankdata(-y, method="min").astype(int), strict=True))
    expected_tau = stats.kendalltau(x, y).statistic
    expected_rho = stats.spearmanr(x, y).statistic

    comparison = compare_results(load_results([REPORTED]))
    pair = next(p for p in comparison.pairs if p.original == "charades-sta")
    assert pair.refined == "charades-timelens"
    got = {m.model: m for m in pair.models}
    assert sorted(got) == models
    for m in models:
        assert got[m].rank_original == expected_orig[m]
        assert got[m].rank_refined == expected_ref[m]
        assert got[m].rank_shift == expected_orig[m] - expected_ref[m]
    assert pair.kendall_tau.value == pytest.approx(expected_tau)
    assert pair.spearman_rho.value == pytest.approx(expected_rho)
    assert pair.kendall_tau.ci_low is None  # reported results: point values only
    # The paper's finding: proprietary models rise as a group, open ones fall.
    shift = {g.model_type: g.mean_rank_shift for g in pair.group_shift}
    assert shift["proprietary"] > 0 > shift["open"]
    # Self-reported numbers stay marked.
    assert "mIoU" in got["VideoChat-R1-7B"].self_reported_original


def test_synthetic_pair_bootstraps_tau_from_per_sample_results(tmp_path):
    write_synthetic_pair(tmp_path)
    comparison = compare_results(load_results([tmp_path]), CompareOptions(bootstrap=300, seed=1))
    (pair,) = comparison.pairs
    assert (pair.original, pair.refined) == ("synthetic-original", "synthetic-refined")
    ranks = {m.model: (m.rank_original, m.rank_refined) for m in pair.models}
    assert ranks["Follows-Original"][0] == 1 and ranks["Follows-Original"][1] > 1
    assert ranks["Accurate-Pro"][1] == 1
    tau = pair.kendall_tau
    assert "bootstrap over videos" in tau.method
    assert tau.ci_low is not None and tau.ci_low <= tau.value <= tau.ci_high
    assert tau.ci_high - tau.ci_low > 0  # genuinely resampled
    for m in pair.models:  # the rank's bootstrap interval holds the point rank
        assert m.rank_ci_refined[0] <= m.rank_refined <= m.rank_ci_refined[1]
        assert m.rank_ci_original[0] <= m.rank_original <= m.rank_ci_original[1]
    follower = next(m for m in pair.models if m.model == "Follows-Original")
    assert follower.rank_ci_original == (1.0, 1.0)  # far ahead on the original annotations
    assert {s.variant for s in pair.adjacent_swaps} == {"original", "refined"}
    assert all(0 <= s.frequency <= 1 for s in pair.adjacent_swaps)
    ps = pair.per_sample
    assert ps is not None and ps.n_matched == 90 and 0 < ps.n_changed < 90
    by_model = {r.model: r for r in ps.models}
    assert by_model["Follows-Original"].delta < 0 and by_model["Follows-Original"].lost > 0
    assert by_model["Accurate-Pro"].delta > 0 and by_model["Accurate-Pro"].gained > 0
    # Unchanged samples give the same IoU under both annotations.
    none_rows = [c for c in ps.categories if c.category == "none"]
    assert none_rows and all(abs(c.delta) < 1e-9 for c in none_rows)
    assert {c.category for c in ps.categories} == {"none", "shifted", "too_wide", "wrong_segment"}


def test_bootstrap_resamples_the_same_videos_for_every_model(tmp_path):
    """Two identical models never swap places: a shared draw gives them equal scores."""
    from compare_support import model_predictions, synth_samples

    _, preds = model_predictions(synth_samples())["Noisy-Open"]
    write_synthetic_pair(tmp_path, extra={"Twin": ("open", preds)})
    comparison = compare_results(load_results([tmp_path]), CompareOptions(bootstrap=200))
    swaps = [
        s
        for s in comparison.pairs[0].adjacent_swaps
        if {s.upper, s.lower} == {"Twin", "Noisy-Open"}
    ]
    assert swaps and all(s.frequency == 0.5 for s in swaps)  # always tied: counted half


def test_reproduced_run_wins_over_reported(tmp_path):
    write_synthetic_pair(tmp_path)
    reported = json.loads((tmp_path / "Accurate-Pro.synthetic-refined.json").read_text())
    reported.update(kind="reported", samples_file=None, source="a paper")
    reported["summary"]["metrics"]["mIoU"]["value"] = 1.0
    (tmp_path / "reported.json").write_text(json.dumps(reported))
    comparison = compare_results(load_results([tmp_path]), CompareOptions(bootstrap=0))
    acc = next(m for m in comparison.pairs[0].models if m.model == "Accurate-Pro")
    assert acc.kind_refined == "reproduced" and acc.refined["mIoU"].value > 50


def test_cli_compare_json_and_errors(tmp_path, capsys):
    write_synthetic_pair(tmp_path)
    assert main(["compare", str(tmp_path), "--json", "--bootstrap", "50"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pairs"][0]["kendall_tau"]["ci_low"] is not None
    assert main(["compare", str(tmp_path / "missing")]) == 2
    assert "file or folder not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        load_results([bad])
