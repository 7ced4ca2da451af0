"""docs/submitting.md followed literally with the mock adapter (as the page invites a
reader without a model of their own to do): the files validate, and the model is on the
built site, read in headless Chromium; model pages lead with the numbers."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
from browser_support import CHROMIUM, screenshot
from docs_checks import doc_env, prepare_workdir, run_block
from docs_commands import REPO, extract_blocks

DOC = REPO / "docs" / "submitting.md"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def followed(tmp_path_factory) -> Path:
    """The working folder after running every runnable block of the page, with ``mock``
    wherever the commands say ``motion-peak``."""
    work = prepare_workdir(tmp_path_factory.mktemp("submitting"))
    env = doc_env(None)
    ran = 0
    for block in extract_blocks(DOC):
        commands = [
            dataclasses.replace(c, text=c.text.replace("motion-peak", "mock"))
            for c in block.commands
        ]
        if any(c.mode == "run" and not c.is_setup for c in commands):
            run_block(dataclasses.replace(block, commands=commands), work, env, timeout=600)
            ran += 1
    assert ran >= 4  # adapters list, run, validate, build
    return work


def test_the_files_validate_and_sidecars_stay_out_of_the_glob(followed):
    folder = followed / "results" / "example-org" / "mock"
    assert sorted(p.name for p in folder.glob("*.json")) == [
        "synthetic-original.json",
        "synthetic-refined.json",
    ]
    assert (folder / "synthetic-refined.json.spec").is_file()  # the sidecars are there
    done = subprocess.run(
        ["bash", "-c", "timelens-eval leaderboard validate results/example-org/mock/*.json"],
        cwd=followed,
        env=doc_env(None),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok      ") == 2


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    yield page
    context.close()


def test_the_model_and_the_reference_model_are_on_the_built_site(followed, page, tmp_path):
    page.goto((followed / "site" / "index.html").as_uri())
    synthetic = page.eval_on_selector_all(
        "#table-synthetic-all tbody tr", "rows => rows.map(r => r.dataset.model)"
    )
    assert "mock" in synthetic and "reference-tiny" in synthetic
    assert {"uniform", "prior", "random"} <= set(synthetic)
    page.click("#table-synthetic-all a:text-is('mock')")
    page.wait_for_selector("#model-results")
    assert page.text_content("#model-name") == "mock"
    rows = page.eval_on_selector_all(
        "#model-results tbody tr", "rows => rows.map(r => r.dataset.bench)"
    )
    assert sorted(rows) == ["synthetic-original", "synthetic-refined"]
    assert "run with timelens-eval" in page.text_content("#model-results")
    assert not page.errors
    screenshot(page, tmp_path, "submitted-model.png")


def _visible_text(page) -> str:  # noqa: ANN001
    return page.evaluate("() => document.body.innerText")


def test_a_model_page_leads_with_the_numbers_and_folds_the_spec(followed, page):
    page.goto((followed / "site" / "index.html").as_uri())
    page.click("#overview-all a:text-is('GPT-4o')")
    page.wait_for_selector("#model-results")
    order = page.eval_on_selector_all(
        "#app > section, #app > h1", "nodes => nodes.map(n => n.id || n.tagName)"
    )
    assert order.index("results") < order.index("details")
    first = page.eval_on_selector_all(
        "#model-results tbody tr:first-child td", "cells => cells.map(c => c.textContent)"
    )
    assert re.fullmatch(r"\d+\.\d", first[1])  # R1@0.3 right after the benchmark
    assert first[5] == "\u2013"  # the paper does not state the sample count
    assert "TimeLens paper" in first[7]  # the source, in the row
    # The specs are there, folded: not shown until opened.
    assert page.query_selector_all("details.run") and not page.query_selector_all(
        "details.run[open]"
    )
    text = _visible_text(page)
    assert "schema_version" not in text and "protocol" not in text
    page.click("details.run summary")
    opened = _visible_text(page)
    assert "protocol" in opened
    assert not re.search(r"\bnull\b|\"n\": ?0\b|\bn_videos\b", opened)
    assert not page.errors
