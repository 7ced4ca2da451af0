"""Join the shards of one run into one result, losslessly.

Checks that the shard headers describe the same run (specs equal but for the shard and
the volatile fields), that every shard ``0..N-1`` is there exactly once, and that no
sample appears twice; then writes one per-sample stream (in benchmark order) and a
header whose metrics are recomputed from the joined samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from timelens_eval.errors import ConfigError, InputError
from timelens_eval.runner.engine import summarize_records, write_run_header
from timelens_eval.runner.files import RunPaths, file_sha256, spec_differences, write_samples
from timelens_eval.runner.options import parse_shard
from timelens_eval.store import (
    RunResult,
    SampleRecord,
    read_result,
    read_sample_records,
    resolve_samples_file,
)

__all__ = ["merge_shards"]


def _load(header: Path) -> tuple[RunResult, list[SampleRecord]]:
    result = read_result(header)
    if result.samples_file is None:
        raise InputError("result has no per-sample file to merge", path=header)
    samples = resolve_samples_file(header, result.samples_file)
    records = read_sample_records(samples)
    if result.samples_sha256 is not None and file_sha256(samples) != result.samples_sha256:
        raise InputError("per-sample file changed since its header was written", path=samples)
    return result, records


def merge_shards(
    headers: Sequence[str | Path],
    output: str | Path,
    *,
    bootstrap: int | None = None,
    seed: int | None = None,
) -> RunResult:
    """Merge the shard headers ``headers`` (all ``N`` of them) into ``output``.

    ``bootstrap`` and ``seed`` default to those the shards were summarised with, so
    the merged metrics equal those of the same run done unsharded.
    """
    if not headers:
        raise ConfigError("merge: give the header files (*.json) of the shards")
    loaded = [(Path(h), *_load(Path(h))) for h in headers]
    first_path, first, _ = loaded[0]
    counts: dict[int, Path] = {}
    total = None
    for path, result, _ in loaded:
        shard = parse_shard(result.spec.shard)
        if shard is None:
            raise InputError("not a shard (spec.shard is empty)", path=path)
        if total is not None and shard.count != total:
            raise InputError(f"shard {shard} does not belong to a {total}-way split", path=path)
        total = shard.count
        if shard.index in counts:
            raise InputError(f"shard {shard} given twice (also {counts[shard.index]})", path=path)
        counts[shard.index] = path
        diff = spec_differences(
            first.spec,
            result.spec,
            ignore=frozenset({"created", "versions", "git_commit", "shard"}),
        )
        if diff:
            raise InputError(f"spec differs from {first_path}: {'; '.join(diff[:3])}", path=path)
    assert total is not None
    missing = sorted(set(range(total)) - set(counts))
    if missing:
        raise ConfigError(f"merge: missing shard(s) {', '.join(f'{i}/{total}' for i in missing)}")

    records: list[SampleRecord] = []
    owner: dict[str, Path] = {}
    for path, _, shard_records in loaded:
        for record in shard_records:
            if record.sample_id in owner:
                raise InputError(
                    f"sample {record.sample_id} is also in {owner[record.sample_id]}", path=path
                )
            owner[record.sample_id] = path
            records.append(record)
    records.sort(key=lambda r: (r.meta.get("index", 0), r.sample_id))

    paths = RunPaths.for_output(output)
    paths.header.parent.mkdir(parents=True, exist_ok=True)
    write_samples(records, paths.samples)

    spec = first.spec.model_copy(update={"shard": None})
    if bootstrap is None:
        bootstrap = first.summary.bootstrap_samples or 0
    if seed is None:
        seed = first.summary.bootstrap_seed or 0
    summary = summarize_records(records, spec.protocol, bootstrap=bootstrap, seed=seed)
    return write_run_header(spec, summary, paths)
