"""report: the offline HTML report and the Markdown summary."""

from __future__ import annotations

import re

from compare_support import model_predictions, synth_samples, write_synthetic_pair

from timelens_eval.cli import main

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_report_shows_rank_shift_with_bootstrap_tau(tmp_path):
    write_synthetic_pair(tmp_path / "results")
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "results"), "--out", str(out), "--bootstrap", "200"]) == 0
    md = (out / "report.md").read_text()
    # tau with a bootstrap CI "[low, high]" computed from per-sample results
    assert re.search(r"Kendall's tau: -?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]", md)
    assert "percentile bootstrap over videos" in md
    row = next(line for line in md.splitlines() if line.startswith("| Follows-Original | open"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    rank_o, rank_r = (int(c.split(" [")[0]) for c in cells[5:7])
    assert rank_o == 1 and rank_r > 1 and int(cells[7]) < 0  # fell from rank 1
    assert re.fullmatch(r"\d+ \[\d+–\d+\]", cells[6])  # bootstrap interval of the rank
    assert "By annotation error category" in md and "| wrong_segment |" in md
    assert "## Parse failures" in md

    page = (out / "report.html").read_text()
    from plotly.offline import get_plotlyjs

    bundle = get_plotlyjs()
    assert page.count(bundle[:200]) == 1  # plotly.js inlined exactly once
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched: works from file://
    assert page.count('<script type="application/json"') == 3  # slopegraph, scatter, bars
    assert "#0072B2" in page and "#D55E00" in page  # Okabe-Ito colours
    assert "rank (1 = best)" in page and "mIoU (%)" in page  # labelled axes with units


def test_report_escapes_model_names(tmp_path):
    samples = synth_samples(5)
    _, preds = model_predictions(samples)["Noisy-Open"]
    write_synthetic_pair(tmp_path / "r", n_videos=5, extra={XSS: ("open", preds)})
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "r"), "--out", str(out), "--bootstrap", "20"]) == 0
    page = (out / "report.html").read_text()
    body = page.split("</head>", 1)[1]
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "<img" not in md
