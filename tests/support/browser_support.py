"""Headless Chromium settings and screenshots shared by the browser tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
"""The Debian Chromium the browser tests drive (they skip without it)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Launch arguments: headless, offline-quiet, no first-run work."""


def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """Save a full-page screenshot in ``tmp_path``, and in ``$TIMELENS_SCREENSHOTS`` if set."""
    page.screenshot(path=str(tmp_path / name), full_page=True)
    folder = os.environ.get("TIMELENS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)
