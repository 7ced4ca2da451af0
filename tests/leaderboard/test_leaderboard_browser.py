"""The built site in headless Chromium: tables, sorting, views, model pages, drill-down,
no console errors, and markup from result files shown as text on every page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser_support import CHROMIUM, screenshot
from compare_support import (
    model_page,
    model_predictions,
    synth_samples,
    write_run,
    write_synthetic_pair,
)
from repo_paths import REPORTED

from timelens_eval.cli import main

XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">Evil'
XSS_ANSWER = "</script><script>window.__xss=3</script><img src=y onerror=window.__xss=4> 1 - 5"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("lb")
    results = base / "results"
    shutil.copytree(REPORTED, results / "reported")
    write_synthetic_pair(results / "synthetic", n_videos=12)
    samples = synth_samples(12)
    _, preds = model_predictions(samples)["Noisy-Open"]
    answers = [XSS_ANSWER] * len(samples)
    for bench, variant in (("synthetic-original", "original"), ("synthetic-refined", "refined")):
        write_run(
            results / "xss", XSS_NAME, "open", bench, variant, samples, preds, answers=answers
        )
    out = base / "site"
    assert (
        main(
            [
                "leaderboard",
                "build",
                "--results",
                str(results),
                "--out",
                str(out),
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    return out


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on(
        "request", lambda r: r.url.startswith("file://") or page.errors.append("network: " + r.url)
    )
    yield page
    context.close()


def _column(page, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.children[{index}].textContent)"
    )


def test_site_tables_sorting_views_model_page_and_drilldown(site, page, tmp_path):
    page.goto((site / "index.html").as_uri())
    # every model with a refined charades result is in its table
    refined = sorted(p.stem.rsplit(".", 1)[0] for p in REPORTED.glob("*.charades-timelens.json"))
    names = page.eval_on_selector_all(
        "#table-charades-all tbody tr", "rs => rs.map(r => r.dataset.model)"
    )
    assert len(names) == len(refined) == 18
    overview = page.eval_on_selector_all(
        "#overview-all tbody tr", "rs => rs.map(r => r.dataset.model)"
    )
    assert {"Follows-Original", "Accurate-Pro", "GPT-4o", "TimeLens-8B", XSS_NAME} <= set(overview)
    # default: sorted by mIoU, descending; clicking the header flips it
    values = [float(v.split("[")[0].rstrip("*")) for v in _column(page, "table-charades-all", 6)]
    assert values == sorted(values, reverse=True)
    page.click("#table-charades-all th[data-key='mIoU']")
    values = [float(v.split("[")[0].rstrip("*")) for v in _column(page, "table-charades-all", 6)]
    assert values == sorted(values)
    page.click("#table-charades-all th[data-key='R1@0.3']")
    r03 = [float(v.split("[")[0].rstrip("*")) for v in _column(page, "table-charades-all", 3)]
    assert r03 == sorted(r03, reverse=True)
    assert (
        page.get_attribute("#table-charades-all th[data-key='R1@0.3']", "aria-sort") == "descending"
    )
    page.click("#table-charades-all th[data-key='name']")
    models = _column(page, "table-charades-all", 1)
    assert models == sorted(models)
    screenshot(page, tmp_path, "leaderboard-index.png")
    # views: open vs proprietary, then the original benchmarks
    page.click("#view-separated")
    assert page.is_visible("#table-charades-open") and page.is_visible(
        "#table-charades-proprietary"
    )
    assert not page.query_selector("#table-charades-all")
    open_types = set(_column(page, "table-charades-open", 2))
    assert open_types == {"open"}
    for kind in ("open", "proprietary"):  # ranks count within each table
        ranks = [int(r) for r in _column(page, f"table-charades-{kind}", 0)]
        assert ranks == list(range(1, len(ranks) + 1)), kind
    page.click("#variant-original")
    assert page.get_attribute("#tables", "data-variant") == "original"
    assert "charades-sta" in page.text_content("#table-charades-open caption")
    assert len(page.query_selector_all("#table-charades-open tbody tr")) == 6  # open models on STA
    screenshot(page, tmp_path, "leaderboard-original-separated.png")
    # rank-shift view
    page.click("#nav-shift")
    page.wait_for_selector("svg.slope")
    lines = page.query_selector_all("#pair-charades-sta svg.slope g")
    assert len(lines) == 11
    screenshot(page, tmp_path, "leaderboard-shift.png")
    # a model page and its drill-down
    page.click("#nav-index")
    page.click("#overview-all a:text-is('Follows-Original')")
    page.wait_for_selector("#drill")
    assert page.text_content("#model-name") == "Follows-Original"
    assert "mock" in page.text_content(".run dl.spec")  # adapter shown in the spec
    assert page.text_content("#drill-count").startswith("36 of 36 queries")
    assert len(page.query_selector_all("#drill-rows .sample svg rect.gt")) == 36
    assert len(page.query_selector_all("#drill-rows .sample svg rect.pred")) == 36
    page.fill("#drill-search", "v003")
    shown = page.eval_on_selector_all("#drill-rows .sample", "rs => rs.map(r => r.dataset.sample)")
    assert shown and all(s.startswith("v003") for s in shown)
    assert page.text_content("#drill-count").startswith(f"{len(shown)} of 36")
    page.select_option("#drill-run", index=1)
    page.fill("#drill-search", "")
    page.select_option("#drill-sort", "iou-asc")
    ious = page.eval_on_selector_all(
        "#drill-rows .sample > div:first-child",
        "rs => rs.map(r => parseFloat(r.textContent.split('IoU ')[1]))",
    )
    assert ious == sorted(ious)
    screenshot(page, tmp_path, "leaderboard-model.png")
    assert page.errors == []


def test_markup_in_names_and_answers_is_shown_as_text_everywhere(site, page):
    pages = [site / "index.html", site / "shift.html", model_page(site, XSS_NAME)]
    for path in pages:
        page.goto(path.as_uri())
        page.wait_for_selector("main h1")
        assert page.evaluate("window.__xss") is None, path
        assert page.query_selector("img") is None, path
        assert XSS_NAME in page.text_content("main"), path
        assert page.evaluate("document.querySelectorAll('script').length") == 2, path
    # on the model page the answer's payload is visible text in the drill-down
    assert XSS_ANSWER in page.text_content("#drill-rows")
    assert page.errors == []
