"""Bidi and other invisible control characters from result files, on the built site in
headless Chromium: a U+202E in a video id must not reverse the rest of its drill-down
line, and no such character reaches the page unseen."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from compare_support import model_page, model_predictions, synth_samples, write_run

from timelens_eval.cli import main

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]

MODEL = "Evil\u202eledoM"
VIDEO = "vid\u202eabc"
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("bidi")
    samples = synth_samples(6)
    samples[0] = dataclasses.replace(
        samples[0], video_id=VIDEO, query="the \u2066person\u2069 walks\u200b in\x07"
    )
    _, preds = model_predictions(samples)["Noisy-Open"]
    answers = [f"\u202e{a:.1f} - {b:.1f}\u200f" for a, b in preds]
    write_run(
        base / "results", MODEL, "open", "synthetic-refined", "refined", samples, preds, answers
    )
    out = base / "site"
    argv = ["leaderboard", "build", "--results", str(base / "results"), "--out", str(out)]
    assert main([*argv, "--bootstrap", "0"]) == 0
    return out


@pytest.fixture(scope="module")
def page(site):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(model_page(site, MODEL).as_uri())
        page.wait_for_selector("#drill-rows .sample")
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


_POSITIONS = """row => {
  const head = row.firstElementChild;
  const walker = document.createTreeWalker(head, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && node.textContent.indexOf('IoU') < 0) {}
  const at = node.textContent.indexOf('IoU');
  const left = i => {
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    return range.getBoundingClientRect().left;
  };
  return [left(at), left(at + 1), left(at + 2)];
}"""


def test_a_rtl_override_in_a_video_id_does_not_reverse_its_line(page):
    row = page.query_selector(f"#drill-rows .sample[data-sample='{'v000#0'}']")
    assert row is not None
    # "IoU" after the video id reads left to right: I, then o, then U
    i, o, u = row.evaluate(_POSITIONS)
    assert i < o < u, (i, o, u)
    head = row.evaluate("r => r.firstElementChild.textContent")
    assert "video vid[U+202E]abc · IoU" in head


def test_no_invisible_control_character_reaches_the_page(page):
    text = page.evaluate("document.body.innerText + document.title")
    assert not INVISIBLE.search(text), INVISIBLE.findall(text)
    assert page.text_content("#model-name") == "Evil[U+202E]ledoM"
    row = page.query_selector("#drill-rows .sample[data-sample='v000#0']")
    assert row.evaluate("r => r.querySelector('.q').textContent") == (
        "the [U+2066]person[U+2069] walks[U+200B] in[U+0007]"
    )
    assert row.evaluate("r => r.querySelector('.a').textContent").startswith("[U+202E]")
    assert page.errors == []
