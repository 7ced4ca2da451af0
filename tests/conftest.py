"""Fixtures that more than one test file uses (the others stay in their file).

Helpers that are not fixtures (builders, stand-in servers, paths) live in
``tests/support/`` and are imported by name.
"""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, see :mod:`browser_support`), one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=["compiled", "numpy"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once with the compiled scanner of plain TimeLens files and once with the
    numpy reader alone (as where the package was installed without a C compiler)."""
    from timelens_eval.predictions_columns import _bytes

    if request.param == "numpy":
        monkeypatch.setattr(_bytes, "_scanner", lambda: None)
    elif _bytes._scanner() is None:
        pytest.skip("no compiled scanner here (tests/scoring/test_compiled_scanner.py says why)")
    return request.param
