"""`timelens-eval run` as users call it: the main job, progress, locking, secrets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from repo_paths import ROOT
from runner_support import toy_benchmark

from timelens_eval.adapters import build_adapter
from timelens_eval.cli import main
from timelens_eval.errors import ConfigError
from timelens_eval.runner import RunOptions, arun_benchmark, run_benchmark
from timelens_eval.store import read_result, read_sample_records


@pytest.mark.slow
def test_main_job_evaluates_the_default_models_on_both_synthetic_variants(tmp_path, capsys):
    from timelens_eval.runner.defaults import DEFAULT_BENCHMARKS, DEFAULT_MODELS, default_models

    models = default_models()
    assert main(["run", "--runs-dir", str(tmp_path), "--no-progress", "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    headers = sorted(tmp_path.glob("default/*/*.json"))
    assert len(headers) == len(models) * len(DEFAULT_BENCHMARKS)
    seen = set()
    results = {}
    for header in headers:
        result = read_result(header)
        seen.add((result.spec.adapter, result.spec.benchmark))
        results[result.spec.adapter, result.spec.benchmark] = result
        assert result.summary.n > 100 and result.summary.errors == 0
        assert result.spec.variant in ("original", "refined") and result.spec.benchmark_hash
        mean = result.summary.metrics["mIoU"]
        assert mean.ci_low <= mean.value <= mean.ci_high
        assert f"{mean.value:.1f}" in out  # the table shows it
    assert {a for a, _ in seen} == {m.adapter for m in models}
    assert {"uniform", "prior", "random"} <= {a for a, _ in seen}
    for model in models[len(DEFAULT_MODELS) :]:
        # The shipped reference model: the transformers adapter on the inputs it was
        # trained with; every answer parses and it localises better than the prior.
        for bench in DEFAULT_BENCHMARKS:
            result = results[model.adapter, bench]
            assert result.spec.model_type == "open" and result.spec.model == model.label
            assert result.spec.frames == model.options["frames"]
            assert result.spec.prompt.encoding == model.options["encoding"]
            assert result.summary.parse_failures == 0
        refined = "synthetic-refined"
        for metric in ("R1@0.5", "mIoU"):
            ours = results[model.adapter, refined].summary.metrics[metric].value
            assert ours > results["prior", refined].summary.metrics[metric].value
    assert "synthetic-original" in out and "synthetic-refined" in out and "R1@0.7" in out
    # results/reproduced holds these runs for the leaderboard: the shipped results are
    # what the shipped models answer today (else they must be regenerated).
    shipped = ROOT / "results" / "reproduced"
    for header in headers:
        mine = shipped / header.parent.name / header.name
        assert mine.is_file(), f"{mine} is missing from results/reproduced"
        kept = {
            r.sample_id: r.answer for r in read_sample_records(mine.with_suffix(".samples.jsonl"))
        }
        now = {
            r.sample_id: r.answer
            for r in read_sample_records(header.with_name(header.stem + ".samples.jsonl"))
        }
        assert kept == now, f"{mine}: the shipped answers differ from the model's"
    # A second call resumes everything and prints the same table.
    assert main(["run", "--runs-dir", str(tmp_path), "--no-progress", "--bootstrap", "100"]) == 0
    assert capsys.readouterr().out == out


def test_reference_model_is_left_out_with_a_reason_when_torch_is_missing(monkeypatch):
    import importlib.util

    from timelens_eval.runner import defaults as runner_main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        runner_main.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real(name, *a),
    )
    notes: list[str] = []
    models = runner_main.default_models(notes.append)
    assert models == runner_main.DEFAULT_MODELS
    assert len(notes) == 1 and "torch" in notes[0] and "timelens-eval[transformers]" in notes[0]


def test_reference_model_reads_the_inputs_beside_the_checkpoint(tmp_path):
    from timelens_eval.checkpoint_inputs import INPUTS_FILE
    from timelens_eval.errors import InputError
    from timelens_eval.runner.defaults import reference_model

    with pytest.raises(InputError, match=INPUTS_FILE):
        reference_model(tmp_path)
    (tmp_path / INPUTS_FILE).write_text('{"frames": {"fps": 1}}')
    with pytest.raises(InputError, match="not an inputs file"):
        reference_model(tmp_path)
    (tmp_path / INPUTS_FILE).write_text(
        json.dumps(
            {
                "adapter_args": {"preset": "qwen2.5-vl", "vision": "images", "device": "cpu"},
                "frames": {"fps": 1.0, "max_pixels": 18816},
                "template": "timelens",
                "encoding": "interleaved",
            }
        )
    )
    model = reference_model(tmp_path, label="mine")
    assert model.args == {
        "preset": "qwen2.5-vl",
        "vision": "images",
        "device": "cpu",
        "model": str(tmp_path),
        "name": "mine",
    }
    assert model.options["frames"].max_pixels == 18816 and model.label == "mine"


def test_adapter_with_default_benchmarks_and_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [
        "run",
        "--adapter",
        "random",
        "--benchmark",
        "synthetic-refined",
        "--no-progress",
        "--bootstrap",
        "0",
    ]
    assert main([*argv, "--limit", "20"]) == 0
    result = read_result(tmp_path / "runs" / "random" / "random" / "synthetic-refined.json")
    assert result.summary.n == 20 and result.spec.limit == 20
    assert main([*argv, "--limit", "30"]) == 2
    assert "limit: 20 != 30" in capsys.readouterr().err


def test_progress_bar_runs_and_reports(tmp_path):
    bench = toy_benchmark(30)
    adapter = build_adapter(
        "mock",
        {"latency": 0.01, "cost_per_call": 0.002, "fail_always": [bench.samples[0].sample_id]},
    )
    outcome = run_benchmark(
        adapter,
        bench,
        RunOptions(output=tmp_path / "p.json", progress=True, bootstrap=0, max_attempts=1),
    )
    assert outcome.result is not None and outcome.errors == 1


def test_two_runs_cannot_write_the_same_output(tmp_path):
    bench = toy_benchmark(20)
    options = RunOptions(output=tmp_path / "same.json", bootstrap=0)

    async def both():
        first = asyncio.create_task(
            arun_benchmark(build_adapter("mock", "latency=0.05"), bench, options)
        )
        await asyncio.sleep(0.05)
        with pytest.raises(ConfigError, match="another run is writing"):
            await arun_benchmark(build_adapter("mock"), bench, options)
        return await first

    outcome = asyncio.run(both())
    assert outcome.result is not None and outcome.ran == 20


def test_cli_never_prints_or_writes_an_environment_key(tmp_path):
    from test_runner_kill import _annotations

    key = "sk-live-abcdefghijklmnop"
    ann = _annotations(tmp_path / "ann.jsonl")
    first_id = json.loads(ann.read_text().splitlines()[0])["qid"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "timelens_eval",
            "run",
            "--adapter",
            "mock",
            "--adapter-args",
            f'key_env=TEST_PROVIDER_API_KEY,echo_key=true,fail_always=["{first_id}"]',
            "--benchmark",
            "qvhighlights",
            "--annotations",
            str(ann),
            "--output",
            str(tmp_path / "out" / "r.json"),
            "--max-attempts",
            "1",
            "--no-progress",
            "--bootstrap",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "TEST_PROVIDER_API_KEY": key,
            "PYTHONPATH": ":".join(sys.path),
        },
    )
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout and key not in done.stderr
    for path in (tmp_path / "out").iterdir():
        assert key not in path.read_text(), path
    assert "(key ***)" in (tmp_path / "out" / "r.samples.jsonl").read_text()
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "timelens_eval",
            "run",
            "--adapter",
            "mock",
            "--adapter-args",
            "key_env=TEST_PROVIDER_API_KEY",
            "--benchmark",
            "qvhighlights",
            "--annotations",
            str(ann),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == "error: mock: environment variable TEST_PROVIDER_API_KEY is not set"
    )
    assert not (tmp_path / "runs").exists()


def test_progress_lines_for_logs(tmp_path, capsys):
    from timelens_eval.runner.progress import RunProgress

    progress = RunProgress("m · b", total=4, done=1, mode="lines", interval=0.0)
    progress.advance(error=True, cost=0.5)
    progress.advance(error=False, cost=None)
    progress.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("m · b: 2/4 samples,") and "1 errors, $0.5000" in lines[0]
    assert lines[-1].startswith("m · b: 3/4 samples,")

    bench = toy_benchmark(5)
    options = RunOptions(output=tmp_path / "l.json", progress="lines", bootstrap=0)
    run_benchmark(build_adapter("mock"), bench, options)
    [final] = capsys.readouterr().err.strip().splitlines()  # short run: only the last line
    assert final.startswith("mock · toy: 5/5 samples,") and "0 errors" in final
