"""Turn the TimeLens paper's published numbers into reported result files.

Reads ``published_results.json`` (the numbers printed by the TimeLens paper, arXiv
2512.14698: Table 1 for the refined benchmarks, supplementary Tables 7-9 for the
original ones) and writes one :class:`timelens_eval.store.RunResult` header per
(model, benchmark) into ``results/reported/``:

* ``kind = "reported"``, ``source`` = where the paper prints the numbers;
* metrics the paper copied from the model's own paper stay listed in
  ``self_reported_metrics`` (the leaderboard marks them);
* metrics the paper leaves blank are left out of ``summary.metrics``;
* ``summary.n`` is 0: the paper does not state a sample count per row.

Usage::

    python scripts/import_published.py [--input FILE] [--out results/reported]
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from timelens_eval.store import MetricsSummary, MetricValue, RunResult, RunSpec, write_result

DEFAULT_INPUT = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"
DEFAULT_INPUT = DEFAULT_INPUT / "published_results.json"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "reported"
# When the numbers were imported; fixed so that re-running gives identical files.
IMPORTED = datetime(2026, 11, 26, tzinfo=timezone.utc)
_MODEL_TYPES = {"open-source": "open", "open": "open", "proprietary": "proprietary"}


def slug(text: str) -> str:
    """A file-name-safe lowercase form of ``text``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def convert(row: dict) -> RunResult:
    """One row of the published table as a reported result header."""
    metrics = {
        name: MetricValue(value=float(value), params=_params(name))
        for name, value in row["metrics"].items()
        if value is not None
    }
    spec = RunSpec(
        model=row["model"],
        model_type=_MODEL_TYPES[row["model_type"]],
        benchmark=row["benchmark"],
        variant=row.get("variant"),
        created=IMPORTED,
    )
    return RunResult(
        kind="reported",
        spec=spec,
        summary=MetricsSummary(n=0, metrics=metrics),
        source=row["source"],
        self_reported_metrics=[m for m in row.get("self_reported_metrics", []) if m in metrics],
    )


def _params(name: str) -> dict[str, float]:
    if name.startswith("R1@"):
        return {"threshold": float(name[3:])}
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows = json.loads(args.input.read_text(encoding="utf-8"))["results"]
    args.out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        result = convert(row)
        write_result(result, args.out / f"{slug(row['model'])}.{row['benchmark']}.json")
    print(f"wrote {len(rows)} reported results to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
