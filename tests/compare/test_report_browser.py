"""The HTML report opens offline from file:// in headless Chromium and draws its charts."""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, screenshot
from compare_support import write_synthetic_pair

from timelens_eval.cli import main

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.mark.slow
def test_report_renders_offline_without_errors(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    write_synthetic_pair(tmp_path / "results", n_videos=10)
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "results"), "--out", str(out), "--bootstrap", "50"]) == 0
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: r.url.startswith("file://") or problems.append(r.url))
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector("#bars-0 .main-svg")
        for fig in ("slope-0", "scatter-0", "bars-0"):
            assert page.query_selector(f"#{fig} .main-svg"), fig
        # the slopegraph draws one line per model plus one legend entry per model type
        labels = page.eval_on_selector_all(
            "#slope-0 .textpoint text", "ts => ts.map(t => t.textContent)"
        )
        assert any("Follows-Original (1)" in t for t in labels)
        screenshot(page, tmp_path, "report.png")
        browser.close()
    assert problems == []
