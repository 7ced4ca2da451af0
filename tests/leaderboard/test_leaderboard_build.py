"""leaderboard build: files written, data escaped, offline assets only."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from compare_support import model_page, write_synthetic_pair
from repo_paths import REPORTED

from timelens_eval.cli import main


def _data(page: Path) -> dict:
    text = page.read_text()
    raw = re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', text, re.S)
    assert raw
    return json.loads(raw.group(1))


def test_build_writes_offline_site_with_reported_badges(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(REPORTED, results / "reported")
    write_synthetic_pair(results / "synthetic", n_videos=6)
    out = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(out)]) == 0
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert "index.html" in pages and "shift.html" in pages
    assert len([p for p in pages if p.startswith("models/")]) == 18 + 5
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), page  # nothing remote
    data = _data(out / "index.html")
    gpt = data["models"].index(next(m for m in data["models"] if m["name"] == "GPT-4o"))
    entry = next(e for e in data["entries"] if e["m"] == gpt and e["b"] == "charades-timelens")
    assert entry["k"] == "reported" and "Table 1" in data["sources"][entry["s"]]
    assert entry["v"]["mIoU"][0] == 41.8
    vcr1 = next(i for i, m in enumerate(data["models"]) if m["name"] == "VideoChat-R1-7B")
    sta = next(e for e in data["entries"] if e["m"] == vcr1 and e["b"] == "charades-sta")
    assert "mIoU" in sta["self"] and "R1@0.3" not in sta["v"]
    pair = next(p for p in data["pairs"] if p["original"] == "synthetic-original")
    assert pair["tau"]["ci_low"] is not None  # per-sample results: bootstrap CI
    synth = _data(model_page(out, "Follows-Original"))
    assert len(synth["samples"]) == 2 and len(synth["samples"][0]["records"]) == 18
    assert synth["runs"][0]["spec"]["adapter"] == "mock"


def test_embedded_json_cannot_close_its_script_element(tmp_path):
    from compare_support import model_predictions, synth_samples, write_run

    samples = synth_samples(2)
    _, preds = model_predictions(samples)["Noisy-Open"]
    name = "</script><script>alert(1)</script>"
    for bench, variant in (("synthetic-original", "original"), ("synthetic-refined", "refined")):
        write_run(
            tmp_path / "r",
            name,
            "open",
            bench,
            variant,
            samples,
            preds,
            answers=["</SCRIPT><!-- " + "\u2028"] * len(samples),
        )
    out = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(tmp_path / "r"), "--out", str(out)]) == 0
    for page in (out / "index.html", model_page(out, name)):
        text = page.read_text()
        assert text.lower().count("</script>") == 2  # the data element's and the app script's
        assert "<!--" not in text
        assert _data(page)  # still valid JSON that round-trips the name
    assert _data(out / "index.html")["models"][0]["name"] == name
