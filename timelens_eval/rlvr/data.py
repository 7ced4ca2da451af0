"""The RLVR data stages: filters, difficulty estimation, sampling, the training samples.

1. :func:`filtered_benchmark` loads the training split and applies the config's data
   filters (:mod:`timelens_eval.rlvr.filters`), counting what each one dropped.
2. :func:`estimate_difficulty` runs the model to be trained over the (filtered) split
   through the project's runner; the per-sample result file (``*.samples.jsonl``) holds
   each sample's IoU and is the difficulty file. :func:`estimate_difficulty_for_config`
   takes the adapter, frames, template, encoding, generation length and filters from
   one RLVR config, so difficulty is measured on the inputs training uses.
3. :func:`sample_training_set` draws the GRPO subset with the Gaussian sampler and
   writes a selection file (ids, per-bucket counts, histograms) plus a plot.
4. :func:`load_training_samples` gives the samples GRPO trains on (filtered, selected);
   :func:`sft_samples` those SFT trains on (its own uniform draw, or the same).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.rlvr.filters import DataFilters, FilterReport, filter_samples
from timelens_eval.rlvr.sampling import (
    DifficultyRecord,
    SamplingConfig,
    Selection,
    expected_bin_distribution,
    read_difficulty,
    select_samples,
)

__all__ = [
    "DifficultyOutcome",
    "FILTERS_FILE",
    "filtered_benchmark",
    "filter_report_of",
    "write_filter_report",
    "estimate_difficulty",
    "estimate_difficulty_for_config",
    "sample_training_set",
    "read_selection",
    "load_training_samples",
    "sft_samples",
]

FILTERS_FILE = "filters.json"
"""Written beside a difficulty run and a training run: what the data filters dropped."""


@dataclass(frozen=True)
class DifficultyOutcome:
    """Where the difficulty file is, and the IoU summary of the model before RL."""

    difficulty_file: Path
    header: Path
    samples: int
    mean_iou: float | None
    filters: FilterReport | None = None


def filtered_benchmark(
    benchmark: str,
    filters: DataFilters,
    *,
    annotations: str | Path | None = None,
    video_root: str | Path | None = None,
    loader_options: dict[str, Any] | None = None,
) -> tuple[Any, FilterReport]:
    """The benchmark with only the samples ``filters`` keep, and what was dropped.

    The filtered benchmark's content hash covers the filter settings, so a run resumed
    under other filters is refused rather than mixed.
    """
    from timelens_eval.benchmarks import load_benchmark

    bench = load_benchmark(benchmark, annotations, video_root=video_root, **(loader_options or {}))
    kept, report = filter_samples(bench.samples, filters)
    if not kept:
        raise InputError(f"the data filters keep no sample of {bench.name} ({report.summary()})")
    digest = hashlib.sha256(f"{bench.content_hash}|{report.fingerprint()}".encode()).hexdigest()
    notes = {**bench.notes, "filters": report.as_dict()}
    return dataclasses.replace(bench, samples=kept, content_hash=digest, notes=notes), report


def filter_report_of(bench: Any) -> FilterReport:
    """The :class:`FilterReport` a benchmark from :func:`filtered_benchmark` carries."""
    report = bench.notes.get("filters")
    if report is None:
        return FilterReport(total=len(bench.samples), kept=len(bench.samples))
    return FilterReport(
        total=report["total"],
        kept=report["kept"],
        dropped=dict(report["dropped"]),
        examples={k: list(v) for k, v in report["examples"].items()},
        filters=dict(report["filters"]),
    )


def write_filter_report(report: FilterReport, directory: str | Path) -> Path:
    """Write ``report`` as ``FILTERS_FILE`` in ``directory``; returns the file."""
    path = Path(directory) / FILTERS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    return path


def estimate_difficulty(
    adapter: str,
    adapter_args: str | dict[str, Any] | None,
    benchmark: str,
    *,
    annotations: str | Path | None = None,
    video_root: str | Path | None = None,
    loader_options: dict[str, Any] | None = None,
    output: str | Path | None = None,
    limit: int | None = None,
    concurrency: int = 1,
    progress: bool = False,
    frames: Any = None,
    template: str | None = None,
    encoding: str | None = None,
    max_new_tokens: int = 512,
    filters: DataFilters | None = None,
) -> DifficultyOutcome:
    """Run ``adapter`` (the model before RL) over ``benchmark`` and return the IoU file.

    ``frames``, ``template`` and ``encoding`` override the adapter's defaults (use the
    training config's, so the difficulty is measured on the inputs GRPO will see);
    ``max_new_tokens`` is the greedy answer's length (512, as TimeLens' filter script);
    ``filters`` drop samples first (the report is written beside the run header). Reruns
    resume like any run. The samples file has ``sample_id``, ``iou`` and ``duration`` per
    line, which the sampler reads.
    """
    from timelens_eval.adapters import GenerationConfig, build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.runner import RunOptions, run_benchmark

    report = None
    if filters is not None:
        bench, report = filtered_benchmark(
            benchmark,
            filters,
            annotations=annotations,
            video_root=video_root,
            loader_options=loader_options,
        )
    else:
        bench = load_benchmark(
            benchmark, annotations, video_root=video_root, **(loader_options or {})
        )
    built = build_adapter(adapter, adapter_args)
    generation = GenerationConfig(max_new_tokens=max_new_tokens)
    options = RunOptions(
        output=Path(output) if output is not None else None,
        limit=limit,
        concurrency=concurrency,
        progress=progress,
        bootstrap=0,
        frames=frames,
        template=template,
        encoding=encoding,
        generation=generation,
    )
    outcome = run_benchmark(built, bench, options, adapter_name=adapter)
    if report is not None:
        write_filter_report(report, outcome.paths.header.parent)
    if outcome.result is None:
        raise InputError(
            f"difficulty run stopped before every sample was done ({outcome.errors} errors); "
            "run the same command again to resume",
            path=outcome.paths.header,
        )
    records = read_difficulty(outcome.paths.samples)
    mean = float(np.mean([r.iou for r in records])) if records else None
    return DifficultyOutcome(
        outcome.paths.samples, outcome.paths.header, len(records), mean, report
    )


def estimate_difficulty_for_config(
    config: Any,
    *,
    limit: int | None = None,
    concurrency: int = 1,
    progress: bool = False,
) -> DifficultyOutcome:
    """:func:`estimate_difficulty` with everything taken from an RLVR config: the
    ``transformers`` adapter on ``difficulty.model`` (default: ``model``) with the
    config's preset, vision input, dtype and attention; its frames, template and
    encoding; greedy answers of up to ``difficulty.max_new_tokens`` tokens; its filters."""
    from timelens_eval.rlvr.inputs import InputSpec

    inputs = InputSpec.from_config(config)
    settings = config.difficulty
    args: dict[str, Any] = {
        "model": settings.model or config.model,
        "device": settings.device,
        "dtype": config.dtype,
        **inputs.adapter_args(),
    }
    if config.attn_implementation:
        args["attn_implementation"] = config.attn_implementation
    data = config.data
    output = settings.output or str(Path(config.output_dir) / "difficulty" / "difficulty.json")
    return estimate_difficulty(
        "transformers",
        args,
        data.benchmark,
        annotations=data.annotations,
        video_root=data.video_root,
        loader_options=data.loader_options,
        output=output,
        limit=limit,
        concurrency=concurrency,
        progress=progress,
        max_new_tokens=settings.max_new_tokens,
        filters=data.filters,
        **inputs.run_options(),
    )


def sample_training_set(
    difficulty_file: str | Path,
    config: SamplingConfig,
    output: str | Path,
    *,
    plot: bool = True,
) -> Selection:
    """Draw the training subset and write it (JSON) with a histogram plot beside it."""
    records = read_difficulty(difficulty_file)
    if not records:
        raise InputError("the difficulty file has no samples", path=difficulty_file)
    selection = select_samples(records, config)
    by_id = {r.sample_id: r for r in records}
    pool = np.array([r.iou for r in records])
    chosen = np.array([by_id[i].iou for i in selection.sample_ids])
    target = expected_bin_distribution(pool, config)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "difficulty_file": str(difficulty_file),
        "sampling": config.model_dump(mode="json"),
        "pool_size": len(records),
        "selected": len(selection.sample_ids),
        "unbucketed": selection.unbucketed,
        "buckets": [
            {
                "min_duration": b.min_duration,
                "max_duration": b.max_duration if np.isfinite(b.max_duration) else None,
                "target_size": b.target_size,
                "pool": pool_n,
                "selected": chosen_n,
            }
            for b, pool_n, chosen_n in selection.bucket_counts
        ],
        "iou_histogram": {
            "bins": config.num_bins,
            "pool": np.histogram(np.clip(pool, 0, 1), config.num_bins, (0, 1))[0].tolist(),
            "selected": np.histogram(np.clip(chosen, 0, 1), config.num_bins, (0, 1))[0].tolist(),
            "target_share": [round(float(x), 6) for x in target],
        },
        "sample_ids": selection.sample_ids,
    }
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    if plot:
        from timelens_eval.rlvr.plots import plot_selection

        plot_selection(pool, chosen, target, out.with_suffix(".png"))  # type: ignore[arg-type]
    return selection


def read_selection(path: str | Path) -> list[str]:
    """The sample ids of a selection file written by :func:`sample_training_set`."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        ids = document["sample_ids"]
    except OSError as exc:
        raise InputError(f"cannot read selection: {exc.strerror}", path=path) from None
    except (ValueError, KeyError, TypeError):
        raise InputError("not a selection file (no sample_ids list)", path=path) from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError("sample_ids must be a list of strings", path=path)
    return ids


def _config_pool(config: Any) -> tuple[Any, FilterReport]:
    data = config.data
    return filtered_benchmark(
        data.benchmark,
        data.filters,
        annotations=data.annotations,
        video_root=data.video_root,
        loader_options=data.loader_options,
    )


def load_training_samples(config: Any) -> tuple[Any, list[Any]]:
    """The benchmark (filtered) and its samples chosen for GRPO (selection, then limit).

    A selected sample that the filters drop is an error: the selection was drawn from
    another pool.
    """
    data = config.data
    bench, _ = _config_pool(config)
    samples = list(bench.samples)
    if data.selection is not None:
        wanted = read_selection(data.selection)
        by_id = bench.by_id()
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise InputError(
                f"{len(missing)} selected samples are not in {bench.name} after its data "
                f"filters (first: {missing[0]})",
                path=data.selection,
            )
        samples = [by_id[i] for i in wanted]
    if data.limit is not None:
        samples = samples[: data.limit]
    if not samples:
        raise ConfigError("no training samples selected")
    return bench, samples


def sft_samples(config: Any) -> tuple[Any, list[Any], Selection | None]:
    """The benchmark and the samples SFT trains on: drawn from the filtered pool with
    ``sft.sampling`` (TimeLens-8B: uniform per duration bucket), or the GRPO samples."""
    sampling = config.sft.sampling
    if sampling is None:
        bench, samples = load_training_samples(config)
        return bench, samples, None
    bench, _ = _config_pool(config)
    if sampling.method == "gaussian":
        raise ConfigError("sft.sampling needs method: uniform (SFT has no difficulty estimate)")
    records = [DifficultyRecord(s.sample_id, 0.0, float(s.duration)) for s in bench.samples]
    selection = select_samples(records, sampling)
    by_id = bench.by_id()
    samples = [by_id[i] for i in selection.sample_ids]
    if config.data.limit is not None:
        samples = samples[: config.data.limit]
    return bench, samples, selection
