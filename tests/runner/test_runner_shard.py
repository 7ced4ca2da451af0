"""Sharded runs merged back equal the unsharded run; merge refuses inconsistent input."""

from __future__ import annotations

import json

import pytest
from runner_support import comparable, metrics_of, toy_benchmark

from timelens_eval.adapters import build_adapter
from timelens_eval.cli import main
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.runner import RunOptions, merge_shards, run_benchmark
from timelens_eval.store import read_result, read_sample_records

BOOT = 200


def _run(bench, output, shard=None, args="rule=hash", limit=None):
    options = RunOptions(output=output, shard=shard, limit=limit, bootstrap=BOOT, concurrency=5)
    return run_benchmark(build_adapter("mock", args), bench, options, adapter_name="mock")


def _shards(bench, tmp_path, count, **kw):
    return [
        _run(bench, tmp_path / f"r.shard-{i}-of-{count}.json", f"{i}/{count}", **kw)
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [1, 3, 4])
def test_merged_shards_equal_the_unsharded_run(tmp_path, count):
    bench = toy_benchmark(41, videos=9)
    whole = _run(bench, tmp_path / "whole.json", limit=37)
    shards = _shards(bench, tmp_path, count, limit=37)
    sizes = [o.total for o in shards]
    assert sum(sizes) == 37 and max(sizes) - min(sizes) <= 1
    merged = merge_shards([o.paths.header for o in reversed(shards)], tmp_path / "merged.json")
    assert merged.summary == read_result(whole.paths.header).summary
    assert merged.spec.shard is None and merged.spec.limit == 37
    assert comparable(read_sample_records(tmp_path / "merged.samples.jsonl")) == comparable(
        read_sample_records(whole.paths.samples)
    )
    # The merged stream is in benchmark order.
    ids = [r.sample_id for r in read_sample_records(tmp_path / "merged.samples.jsonl")]
    assert ids == [s.sample_id for s in bench.samples[:37]]


def test_merge_refuses_missing_duplicate_and_foreign_shards(tmp_path):
    bench = toy_benchmark(12)
    shards = _shards(bench, tmp_path, 3)
    headers = [o.paths.header for o in shards]
    with pytest.raises(ConfigError, match="missing shard"):
        merge_shards(headers[:2], tmp_path / "m.json")
    with pytest.raises(InputError, match="given twice"):
        merge_shards([headers[0], headers[0], headers[1]], tmp_path / "m.json")
    other = _run(bench, tmp_path / "o" / "r.shard-2-of-3.json", "2/3", args="rule=center")
    with pytest.raises(InputError, match="adapter_args.rule"):
        merge_shards([headers[0], headers[1], other.paths.header], tmp_path / "m.json")
    four = _run(bench, tmp_path / "f" / "r.shard-3-of-4.json", "3/4")
    with pytest.raises(InputError, match="4-way|3-way"):
        merge_shards([headers[0], four.paths.header], tmp_path / "m.json")
    unsharded = _run(bench, tmp_path / "u.json")
    with pytest.raises(InputError, match="not a shard"):
        merge_shards([unsharded.paths.header], tmp_path / "m.json")


def test_merge_refuses_a_sample_in_two_shards_and_an_edited_stream(tmp_path):
    bench = toy_benchmark(10)
    shards = _shards(bench, tmp_path, 2)
    a, b = shards
    stray = a.paths.samples.read_text().splitlines()[0]
    # Put shard 0's first record into shard 1 and re-hash so only the duplicate is wrong.
    b.paths.samples.write_text(b.paths.samples.read_text() + stray + "\n")
    header = json.loads(b.paths.header.read_text())
    with pytest.raises(InputError, match="changed since"):
        merge_shards([a.paths.header, b.paths.header], tmp_path / "m.json")
    from timelens_eval.runner.files import file_sha256

    header["samples_sha256"] = file_sha256(b.paths.samples)
    b.paths.header.write_text(json.dumps(header))
    with pytest.raises(InputError, match="is also in"):
        merge_shards([a.paths.header, b.paths.header], tmp_path / "m.json")


def test_cli_shards_and_merge(tmp_path, capsys):
    from test_runner_kill import _annotations

    ann = _annotations(tmp_path / "ann.jsonl")
    common = [
        "--adapter",
        "mock",
        "--benchmark",
        "qvhighlights",
        "--annotations",
        str(ann),
        "--no-progress",
        "--bootstrap",
        str(BOOT),
    ]
    assert main(["run", *common, "--output", str(tmp_path / "whole.json")]) == 0
    for i in range(2):
        out = tmp_path / f"x.shard-{i}-of-2.json"
        assert main(["run", *common, "--shard", f"{i}/2", "--output", str(out)]) == 0
    assert (
        main(
            ["merge", str(tmp_path / "x.shard-0-of-2.json"), str(tmp_path / "x.shard-1-of-2.json")]
        )
        == 0
    )
    assert metrics_of(tmp_path / "x.json") == metrics_of(tmp_path / "whole.json")
    assert main(["run", *common, "--shard", "2/2"]) == 2
    assert "--shard" in capsys.readouterr().err
