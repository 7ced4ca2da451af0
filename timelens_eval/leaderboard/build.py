"""``leaderboard build``: result files -> a static site that works from ``file://``.

The site is three kinds of pages sharing one script and one stylesheet under
``assets/``: ``index.html`` (sortable tables per benchmark group), ``shift.html``
(original vs refined, rank-shift slopegraphs) and ``models/<slug>.html`` (the model's
numbers per benchmark with their source first, then, where per-sample results exist, a
searchable per-query drill-down, and each run's full spec folded).

Each page embeds its data as JSON inside ``<script type="application/json">``, escaped
so that no string can close the element; the script renders every string with
``textContent``, so markup in a model name or an answer is shown as text. Invisible
control characters (bidi overrides such as U+202E, zero-width characters, C0/C1
controls) in any string are written out as ``[U+202E]`` before a page is built, so that
no string can reorder or hide the text around it.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import time
from collections import defaultdict
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, Field

from timelens_eval.compare import (
    CompareOptions,
    LoadedResult,
    compare_results,
    load_results,
    select_results,
)
from timelens_eval.metrics import protocol_metrics
from timelens_eval.protocol import TIMELENS_PROTOCOL
from timelens_eval.report.html import script_json

__all__ = ["BuildOptions", "BuildSummary", "build_site", "model_slug"]

METRICS = tuple(m.name for m in protocol_metrics(TIMELENS_PROTOCOL))
"""The metrics the site shows: those of the TimeLens protocol, by their names."""
# Characters that change how the text around them reads without being seen: C0 and C1
# controls (tab and newline aside), bidi marks, embeddings, overrides and isolates (a
# U+202E reverses the rest of its line), zero-width characters, line separators, BOM.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_ANSWER_LIMIT = 4000
_SPANS_SHOWN = 20  # predicted spans drawn per query (the first is the one scored)
# Groups left out of the overview's average column (test benchmarks, not model quality).
NOT_AVERAGED = frozenset({"synthetic"})


class BuildOptions(BaseModel):
    """What to build and where."""

    results: list[Path] = Field(description="Result files or folders.")
    out: Path
    metric: str = Field("mIoU", description="Metric of the rank-shift view.")
    bootstrap: int = Field(200, ge=0, description="Bootstrap draws for the tau CIs.")
    seed: int = 0


class BuildSummary(BaseModel):
    """What a build wrote."""

    out: Path
    pages: int
    models: int
    results: int
    total_bytes: int
    index_bytes: int
    asset_bytes: int
    seconds: float


def model_slug(name: str) -> str:
    """A file name for a model page: readable part plus a hash (names may collide or
    contain anything)."""
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "model"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def visible(text: str) -> str:
    """``text`` with every invisible control character written out as ``[U+XXXX]``."""
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def neutralized(data: Any) -> Any:
    """Page data (plain JSON values) with :func:`visible` applied to every string and key."""
    if isinstance(data, str):
        return visible(data)
    if isinstance(data, dict):
        return {visible(str(k)): neutralized(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [neutralized(v) for v in data]
    return data


def _short(title: str) -> str:
    return title.split(" (")[0]


def _bench_info(names: set[str]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    from timelens_eval.benchmarks import get_benchmark_spec
    from timelens_eval.errors import UnknownNameError

    info: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    for name in sorted(names):
        try:
            spec = get_benchmark_spec(name)
            title, variant, group = spec.title, spec.variant, spec.group or name
        except UnknownNameError:
            title, variant, group = name, None, name
        info[name] = {"title": title, "short": _short(title), "variant": variant, "group": group}
        groups[group][variant or "single"] = name
    ordered = sorted(groups.items(), key=lambda kv: ("single" in kv[1], kv[0]))
    return info, [
        {"name": g, "benchmarks": b, "average": g not in NOT_AVERAGED} for g, b in ordered
    ]


def _triple(value: Any) -> list[float | None]:
    return [round(value.value, 4), value.ci_low, value.ci_high]


def site_data(loaded: list[LoadedResult], options: BuildOptions) -> dict[str, Any]:
    """The index/shift data: models, benchmarks, groups, entries and pairs."""
    chosen = select_results(loaded)
    bench_info, groups = _bench_info({b for _, b in chosen})
    names = sorted({m for m, _ in chosen})
    types: dict[str, str] = {}
    for (model, _), item in chosen.items():
        types.setdefault(model, item.result.spec.model_type)
    models = [{"name": n, "type": types[n], "page": f"models/{model_slug(n)}.html"} for n in names]
    index = {n: i for i, n in enumerate(names)}
    sources: list[str] = []
    source_index: dict[str, int] = {}
    entries = []
    for (model, bench), item in sorted(chosen.items()):
        r = item.result
        s = None
        if r.source:
            s = source_index.setdefault(r.source, len(sources))
            if s == len(sources):
                sources.append(r.source)
        entries.append(
            {
                "m": index[model],
                "b": bench,
                "k": r.kind,
                "s": s,
                "v": {k: _triple(v) for k, v in r.summary.metrics.items() if k in METRICS},
                "self": list(r.self_reported_metrics),
            }
        )
    comparison = compare_results(
        loaded,
        CompareOptions(metric=options.metric, bootstrap=options.bootstrap, seed=options.seed),
    )
    pairs = [
        {
            "original": p.original,
            "refined": p.refined,
            "tau": p.kendall_tau.model_dump(),
            "rho": p.spearman_rho.model_dump(),
            "models": [
                {
                    "m": index[m.model],
                    "ro": m.rank_original,
                    "rr": m.rank_refined,
                    "vo": m.original[p.metric].value,
                    "vr": m.refined[p.metric].value,
                    "cio": m.rank_ci_original,
                    "cir": m.rank_ci_refined,
                }
                for m in p.models
            ],
        }
        for p in comparison.pairs
    ]
    return {
        "metrics": list(METRICS),
        "metric": options.metric,
        "benchmarks": bench_info,
        "groups": groups,
        "models": models,
        "sources": sources,
        "entries": entries,
        "pairs": pairs,
    }


def _time(value: float) -> float | None:
    """A time for the page (JSON has no infinity: a time beyond the float range is null)."""
    return value if math.isfinite(value) else None


def _record(rec: Any) -> dict[str, Any]:
    answer = rec.answer
    if answer is not None and len(answer) > _ANSWER_LIMIT:
        answer = answer[:_ANSWER_LIMIT] + " [...]"
    return {
        "id": rec.sample_id,
        "v": rec.video_id,
        "q": rec.query,
        "d": rec.duration,
        "gt": [list(s) for s in rec.gt],
        "p": [[_time(a), _time(b)] for a, b in rec.spans[:_SPANS_SHOWN]],
        "pn": len(rec.spans),
        "iou": rec.iou,
        "st": rec.status,
        "a": answer,
        "cat": rec.meta.get("error_category"),
    }


def _origin(r: Any) -> str:
    """Where a result's numbers come from, in one line."""
    if r.kind == "reported":
        return r.source or "reported (no source given)"
    spec = r.spec
    parts = [f"run with timelens-eval {spec.versions.get('timelens-eval', '')}".rstrip()]
    if spec.adapter:
        parts.append(f"adapter {spec.adapter}")
    parts.append(spec.created.strftime("%Y-%m-%d"))
    return ", ".join(parts)


def _page_summary(r: Any) -> dict[str, Any]:
    """The summary fields a page shows: the known ones only. A reported result's sample
    count is not stated by its source (``n`` 0), and its CI settings describe nothing."""
    summary = r.summary.model_dump(mode="json", exclude={"metrics"}, exclude_none=True)
    has_ci = any(m.ci_low is not None for m in r.summary.metrics.values())
    if r.kind == "reported" and not r.summary.n:
        summary.pop("n", None)
    if not has_ci:
        for key in ("ci_level", "ci_method", "bootstrap_samples", "bootstrap_seed"):
            summary.pop(key, None)
    return summary


def model_data(
    name: str, runs: list[LoadedResult], used: set[int], bench_info: dict[str, Any]
) -> dict[str, Any]:
    """One model page's data: every run of the model (the numbers, where they come from
    and the spec) and the per-sample records."""
    out_runs: list[dict[str, Any]] = []
    samples: list[Any] = []
    runs = sorted(runs, key=lambda r: (id(r) not in used, r.result.spec.benchmark))
    for item in runs:
        r = item.result
        spec = r.spec.model_dump(mode="json", exclude={"model"}, exclude_none=True)
        info = bench_info.get(r.spec.benchmark, {"title": r.spec.benchmark})
        stated = r.kind == "reproduced" or bool(r.summary.n)
        run = {
            "title": f"{info['title']}",
            "bench": r.spec.benchmark,
            "kind": r.kind,
            "source": r.source,
            "origin": _origin(r),
            "used": id(item) in used,
            "n": r.summary.n if stated else None,
            "metrics": {k: _triple(v) for k, v in r.summary.metrics.items()},
            "self": list(r.self_reported_metrics),
            "spec": {
                "kind": r.kind,
                "source": r.source,
                **spec,
                "summary": _page_summary(r),
                "samples_file": r.samples_file,
            },
        }
        if item.has_samples:
            samples.append({"run": len(out_runs), "records": [_record(x) for x in item.records()]})
        out_runs.append(run)
    model_type = runs[0].result.spec.model_type if runs else "open"
    return {
        "model": {"name": name, "type": model_type},
        "metrics": list(METRICS),
        "runs": out_runs,
        "samples": samples,
    }


def _template() -> Template:
    text = (
        resources.files("timelens_eval_leaderboard")
        .joinpath("templates/page.html")
        .read_text(encoding="utf-8")
    )
    return Template(text)


def _write_pages(loaded: list[LoadedResult], options: BuildOptions) -> int:
    """Write the assets, the index, the shift view and one page per model (their count)."""
    out = options.out
    (out / "assets").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(parents=True, exist_ok=True)
    for stale in (out / "models").glob("*.html"):
        stale.unlink()
    static = resources.files("timelens_eval_leaderboard").joinpath("static")
    for name in ("leaderboard.js", "leaderboard.css"):
        (out / "assets" / name).write_text(
            static.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    template = _template()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    data = site_data(loaded, options)
    (out / "index.html").write_text(
        _page(template, "index", "Leaderboard · timelens-eval", "", data, stamp), encoding="utf-8"
    )
    (out / "shift.html").write_text(
        _page(template, "shift", "Original vs refined · timelens-eval", "", data, stamp),
        encoding="utf-8",
    )
    used = {id(item) for item in select_results(loaded).values()}
    by_model: dict[str, list[LoadedResult]] = defaultdict(list)
    for item in loaded:
        by_model[item.result.spec.model].append(item)
    for name, runs in by_model.items():
        page = _page(
            template,
            "model",
            f"{name} · timelens-eval",
            "../",
            model_data(name, runs, used, data["benchmarks"]),
            stamp,
        )
        (out / "models" / f"{model_slug(name)}.html").write_text(page, encoding="utf-8")
    return len(by_model)


def _page(template: Template, page: str, title: str, root: str, data: Any, stamp: str) -> str:
    from timelens_eval import __version__

    return template.substitute(
        title=html.escape(visible(title)),
        page=page,
        root=root,
        data=script_json(neutralized(data)),
        generated=html.escape(stamp),
        version=html.escape(__version__),
    )


def build_site(options: BuildOptions) -> BuildSummary:
    """Build the site into ``options.out``; returns sizes and timing. A folder that
    cannot be written (a file in the way, a read-only disk) is one ``OutputError``."""
    from timelens_eval.errors import OutputError

    started = time.perf_counter()
    loaded = load_results(options.results)
    out = options.out
    try:
        models = _write_pages(loaded, options)
    except OSError as exc:
        raise OutputError(exc.filename or out, exc) from None
    files = [p for p in out.rglob("*") if p.is_file()]
    return BuildSummary(
        out=out,
        pages=2 + models,
        models=models,
        results=len(loaded),
        total_bytes=sum(p.stat().st_size for p in files),
        index_bytes=(out / "index.html").stat().st_size,
        asset_bytes=sum(p.stat().st_size for p in (out / "assets").iterdir()),
        seconds=time.perf_counter() - started,
    )
