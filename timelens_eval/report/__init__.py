"""Reports of a comparison: a self-contained HTML page and a Markdown summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from timelens_eval.compare import Comparison, LoadedResult

__all__ = ["write_report"]


def write_report(
    comparison: Comparison, results: Sequence[LoadedResult], out_dir: str | Path
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``comparison.json`` into ``out_dir``."""
    from timelens_eval.report.html import html_report
    from timelens_eval.report.markdown import markdown_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out / "report.html",
        "markdown": out / "report.md",
        "json": out / "comparison.json",
    }
    paths["html"].write_text(html_report(comparison, results), encoding="utf-8")
    paths["markdown"].write_text(markdown_report(comparison, results), encoding="utf-8")
    paths["json"].write_text(comparison.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return paths
