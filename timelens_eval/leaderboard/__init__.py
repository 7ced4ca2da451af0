"""The static leaderboard: site builder and submission validator."""

from __future__ import annotations

from timelens_eval.leaderboard.build import BuildOptions, BuildSummary, build_site
from timelens_eval.leaderboard.validate import FileReport, ValidateOptions, validate_files

__all__ = [
    "BuildOptions",
    "BuildSummary",
    "build_site",
    "FileReport",
    "ValidateOptions",
    "validate_files",
]
