"""Where the tests find the repository, its fixtures and the shared data (no tests here).

Test files live one folder below ``tests/`` (``tests/scoring/``, ``tests/runner/``, ...) and
the helpers in ``tests/support/``, so a path worked out from a test file's own location
would change whenever a file moves; they are all worked out here, once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent
"""``tests/support``: the shared helper modules (on ``sys.path`` through pyproject.toml)."""

TESTS = SUPPORT.parent
"""``tests``: the test suite."""

ROOT = TESTS.parent
"""The repository (a checkout of the project)."""

FIXTURES = TESTS / "fixtures"
"""``tests/fixtures``: recorded data the tests compare against."""

SHARED_DATA = ROOT / ".." / "shared" / "data"
"""The real benchmark files, next to the checkout (tests that need them skip without)."""

OHOFG = SHARED_DATA / "videos" / "OHOFG.mp4"
"""A real Charades-STA video of the shared data."""

REPORTED = ROOT / "results" / "reported"
"""The published results shipped with the project."""

needs_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="real benchmark files not found at ../shared/data"
)
"""Skips a test where the real benchmark files of :data:`SHARED_DATA` are missing."""
