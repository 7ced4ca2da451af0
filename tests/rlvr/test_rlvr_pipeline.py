"""A shortened run of every RLVR stage through the CLI: difficulty, sampling, GRPO training.

Data: the synthetic benchmark's train split (2 rendered videos). Model: a tiny Qwen2.5-VL
built offline. Everything runs on the CPU in seconds; nothing is downloaded.
"""

from __future__ import annotations

import json
import os

import pytest
from repo_paths import ROOT

from timelens_eval.cli import main
from timelens_eval.errors import InputError
from timelens_eval.rlvr.config import load_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = pytest.mark.filterwarnings(
    "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("rlvr")


def _loader_args(workdir) -> str:  # type: ignore[no-untyped-def]
    return f"videos=2,cache_dir={workdir / 'synth'}"


@pytest.fixture(scope="module")
def difficulty(workdir):  # type: ignore[no-untyped-def]
    header = workdir / "difficulty" / "uniform.json"
    code = main(
        [
            "rlvr",
            "estimate-difficulty",
            "-a",
            "uniform",
            "-b",
            "synthetic-refined",
            "--loader-args",
            _loader_args(workdir),
            "-o",
            str(header),
            "--no-progress",
        ]
    )
    assert code == 0
    files = list(header.parent.glob("*.samples.jsonl"))
    assert len(files) == 1
    return files[0]


def test_estimate_difficulty_writes_each_samples_iou(difficulty) -> None:
    rows = [json.loads(line) for line in difficulty.read_text().splitlines() if line.strip()]
    assert len(rows) >= 4
    for row in rows:
        # The uniform baseline answers the whole video: IoU = GT length / duration.
        (start, end), duration = row["gt"][0], row["duration"]
        assert row["iou"] == pytest.approx((end - start) / duration, abs=1e-3)


@pytest.fixture(scope="module")
def selection(workdir, difficulty):  # type: ignore[no-untyped-def]
    out = workdir / "selection.json"
    code = main(
        [
            "rlvr",
            "sample",
            "-d",
            str(difficulty),
            "-o",
            str(out),
            "--target-size",
            "36",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    return out


def test_sample_writes_a_seeded_selection_and_a_plot(selection, difficulty, workdir) -> None:
    document = json.loads(selection.read_text())
    pool = {json.loads(x)["sample_id"] for x in difficulty.read_text().splitlines() if x}
    assert document["selected"] == len(document["sample_ids"]) == 4  # 36 / 9 buckets
    assert set(document["sample_ids"]) <= pool
    assert sum(document["iou_histogram"]["selected"]) == 4
    assert selection.with_suffix(".png").stat().st_size > 1000
    again = workdir / "again.json"
    assert (
        main(
            [
                "rlvr",
                "sample",
                "-d",
                str(difficulty),
                "-o",
                str(again),
                "--target-size",
                "36",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert json.loads(again.read_text())["sample_ids"] == document["sample_ids"]


def _train_config(workdir, selection, model_dir) -> dict:  # type: ignore[no-untyped-def]
    return {
        "name": "tiny-smoke",
        "model": str(model_dir),
        "output_dir": str(workdir / "train"),
        "preset": "qwen2.5-vl",
        "video_backend": "patches",
        "dtype": "float32",
        "frames": {"fps": 1.0, "max_frames": 4, "max_pixels": 56 * 56, "patch": 28},
        "data": {
            "benchmark": "synthetic-refined",
            "loader_options": {"split": "train", "videos": 2, "cache_dir": str(workdir / "synth")},
            "selection": str(selection),
        },
        "grpo": {
            "num_generations": 2,
            "per_device_train_batch_size": 4,
            "max_completion_length": 6,
            "learning_rate": 1e-3,
            "max_steps": 1,
            "save_strategy": "no",
            "use_cpu": True,
        },
        "early_stopping": {"window": 1, "reward_tolerance": 0.0, "std_tolerance": 0.0},
    }


@pytest.mark.slow
def test_train_runs_grpo_on_the_selection_and_writes_checkpoint_and_curves(
    workdir, selection
) -> None:
    pytest.importorskip("trl")
    from timelens_eval.tiny_models import build_tiny_model

    model_dir = build_tiny_model(workdir / "tiny", "qwen2_5_vl", seed=0)
    config = _train_config(workdir, selection, model_dir)
    config["sft"] = {"learning_rate": 1e-3, "max_steps": 2, "use_cpu": True}
    config_path = workdir / "tiny.json"
    config_path.write_text(json.dumps(config))
    # Stage 1: supervised warm start; stage 2: GRPO from the warm-started checkpoint.
    assert main(["rlvr", "sft", "--config", str(config_path)]) == 0
    sft_final = workdir / "train" / "sft" / "final"
    sft_rows = [
        json.loads(x)
        for x in (workdir / "train" / "sft" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in sft_rows if "loss" in r] == [1, 2]
    config["model"] = str(sft_final)
    # every completion counts as well formed, so a non-zero weight would show in the reward
    config["reward"] = {"answer_format": "(?s).*"}
    config_path.write_text(json.dumps(config))
    assert main(["rlvr", "train", "--config", str(config_path)]) == 0

    out = workdir / "train"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] == 4 and summary["steps"] == 1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "reward_std_within_group" in r]
    assert logged and all(0.0 <= r["rewards/tiou/mean"] <= 1.0 for r in logged)
    # the answer-format monitor is logged every step and never enters the reward
    for r in logged:
        assert r["rewards/answer_format/mean"] == 1.0
        assert r["reward"] == pytest.approx(r["rewards/tiou/mean"])
    decisions = (out / "early_stopping.jsonl").read_text().splitlines()
    assert len(decisions) == len(logged)
    assert (out / "curves.png").stat().st_size > 1000
    final = out / "final"
    assert (final / "config.json").exists() and list(final.glob("*.safetensors"))
    # The checkpoint loads back like any transformers checkpoint.
    from transformers import AutoModelForImageTextToText

    AutoModelForImageTextToText.from_pretrained(final)
    from timelens_eval.tiny_models import load_processor

    assert load_processor(final).tokenizer.convert_tokens_to_ids("<|video_pad|>") > 0


def test_config_files_validate_and_errors_name_the_file(tmp_path) -> None:

    root = ROOT / "configs" / "rlvr"
    for name in ("timelens-7b.yaml", "timelens-8b.yaml"):
        config = load_config(root / name)
        assert config.grpo.num_generations == 8 and config.grpo.beta == 0.0
        assert config.grpo.temperature == 1.0  # every value: tests/rlvr/test_rlvr_recipes.py
        assert config.sampling.mean == 0.05 and config.sampling.std == 0.2
        assert sum(b.target_size for b in config.sampling.buckets) == 2493
        assert config.sampling.buckets[-1].max_duration == float("inf")
    overridden = load_config(root / "timelens-8b.yaml", {"grpo.max_steps": 3})
    assert overridden.grpo.max_steps == 3

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: m\noutput_dir: o\ngrpo:\n  num_generations: 1\n")
    with pytest.raises(InputError, match=r"bad.yaml.*grpo.num_generations"):
        load_config(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "model": }')
    with pytest.raises(InputError, match=r"broken.json:2"):
        load_config(broken)
    assert main(["rlvr", "train", "--config", str(bad)]) == 2


def _images_config(workdir, selection, model_dir) -> dict:  # type: ignore[no-untyped-def]
    config = _train_config(workdir, selection, model_dir)
    config.update(
        input_mode="images",
        encoding="interleaved",
        preset="qwen2.5-vl",
        output_dir=str(workdir / "train-images"),
    )
    config["sft"] = {"learning_rate": 1e-3, "max_steps": 1, "use_cpu": True}
    return config


def test_images_mode_rows_match_the_adapter_request(workdir, selection) -> None:
    """input_mode=images builds the transformers adapter's vision=images prompt."""
    pytest.importorskip("datasets")
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.pipeline import build_dataset

    config = RLVRConfig.model_validate(_images_config(workdir, selection, "unused"))
    row = build_dataset(config)[0]
    content = row["prompt"][-1]["content"]
    kinds = [part["type"] for part in content]
    n_images = kinds.count("image")
    assert n_images == len(row["images"]) >= 2
    # Interleaved encoding: "<t>s" text before every frame, the instruction last.
    texts = [part["text"] for part in content if part["type"] == "text"]
    assert texts[0] == "0.0s" and texts[1].endswith("s") and float(texts[1][:-1]) > 0
    assert kinds[:2] == ["text", "image"] and row["query"] in texts[-1]
    assert "video" not in row and row["video_path"].endswith(".mp4")


@pytest.mark.slow
def test_images_mode_runs_sft_and_grpo(workdir, selection) -> None:
    pytest.importorskip("trl")
    from timelens_eval.tiny_models import build_tiny_model

    model_dir = build_tiny_model(workdir / "tiny-images", "qwen2_5_vl", seed=1)
    config_path = workdir / "images.json"
    config_path.write_text(json.dumps(_images_config(workdir, selection, model_dir)))
    assert main(["rlvr", "sft", "--config", str(config_path)]) == 0
    assert main(["rlvr", "train", "--config", str(config_path)]) == 0
    out = workdir / "train-images"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("reward_std_within_group" in r for r in rows)
    assert (out / "final" / "config.json").exists()


@pytest.mark.slow
def test_reference_evaluation_pairs_checkpoints_with_a_baseline(workdir) -> None:
    """Stage 6 of the reference pipeline: the transformers adapter and paired tests."""
    pytest.importorskip("transformers")
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.reference import evaluate_checkpoints
    from timelens_eval.tiny_models import build_tiny_model

    a = build_tiny_model(workdir / "eval-a", "qwen2_5_vl", seed=3)
    b = build_tiny_model(workdir / "eval-b", "qwen2_5_vl", seed=4)
    cache = str(workdir / "synth")
    config = RLVRConfig.model_validate(
        {
            **_images_config(workdir, workdir / "unused.json", a),
            "reference": {
                "eval_loader_options": {"split": "train", "videos": 2, "cache_dir": cache},
                "eval_limit": 3,
                # uniform needs no training split (prior would generate the full one).
                "baselines": ["uniform"],
            },
        }
    )
    report = evaluate_checkpoints(config, config.reference, {"a": a, "b": b}, workdir / "reference")
    assert set(report["models"]) == {"a", "b", "uniform"}
    assert set(report["paired"]) == {"b - a", "b - uniform"}
    test = report["paired"]["b - uniform"]
    assert test["n"] == 3 and test["ci_low"] <= test["difference"] <= test["ci_high"]
    # The uniform baseline answers the whole video: its mIoU is the mean GT share.
    from timelens_eval.benchmarks import load_benchmark

    bench = load_benchmark("synthetic-refined", split="train", videos=2, cache_dir=cache)
    shares = [s.gt[0].length / s.duration for s in bench.samples[:3]]
    miou = report["models"]["uniform"]["mIoU"]["value"]
    assert miou == pytest.approx(100 * sum(shares) / 3, abs=0.1)  # metrics are percentages
    assert (workdir / "reference" / "evaluation.json").exists()


def test_reference_adapter_args_follow_the_device_setting(tmp_path) -> None:
    """Difficulty and evaluation run the adapter on the configured device."""
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.reference import _adapter_args

    base = {"name": "r", "model": "m", "output_dir": str(tmp_path), "input_mode": "images"}
    default = RLVRConfig.model_validate(base)
    assert _adapter_args(default, tmp_path / "ckpt")["device"] == "cpu"
    assert default.reference.difficulty_limit is None
    cuda = RLVRConfig.model_validate(
        {**base, "reference": {"device": "cuda", "difficulty_limit": 50}}
    )
    args = _adapter_args(cuda, tmp_path / "ckpt")
    assert args["device"] == "cuda" and args["model"] == str(tmp_path / "ckpt")
    assert cuda.reference.difficulty_limit == 50
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**base, "reference": {"difficulty_limit": 0}}))
    with pytest.raises(InputError, match="c.json"):
        load_config(path)


def test_reference_sft_from_needs_a_checkpoint(tmp_path) -> None:
    """Starting the reference pipeline from an SFT checkpoint checks that it exists."""
    from timelens_eval.errors import ConfigError
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.reference import run_reference

    empty = tmp_path / "not-a-checkpoint"
    empty.mkdir()
    config = RLVRConfig.model_validate(
        {
            "name": "r",
            "model": "m",
            "output_dir": str(tmp_path / "out"),
            "input_mode": "images",
            "reference": {"sft_from": str(empty)},
        }
    )
    with pytest.raises(ConfigError, match="no checkpoint"):
        run_reference(config)


@pytest.mark.slow
def test_reference_command_runs_every_stage_shortened(workdir) -> None:
    """`rlvr reference` end to end at toy sizes: BPE tokenizer learned from the training
    prompts, SFT, difficulty, sampling, GRPO, evaluation; both checkpoints record their
    inputs, and the default run's loader turns one into an adapter that answers."""
    pytest.importorskip("trl")
    from timelens_eval.adapters import build_adapter
    from timelens_eval.benchmarks import load_benchmark
    from timelens_eval.checkpoint_inputs import INPUTS_FILE
    from timelens_eval.runner import RunOptions, run_benchmark
    from timelens_eval.runner.defaults import reference_model

    loader = {"split": "train", "videos": 2, "cache_dir": str(workdir / "synth")}
    out = workdir / "reference-short"
    config = {
        "name": "reference-short",
        "model": "unused",
        "output_dir": str(out),
        "input_mode": "images",
        "encoding": "interleaved",
        "preset": "qwen2.5-vl",
        "dtype": "float32",
        "frames": {"fps": 0.5, "max_frames": 8, "max_pixels": 56 * 56, "patch": 28},
        "data": {"benchmark": "synthetic-refined", "loader_options": loader},
        "sft": {
            "learning_rate": 1e-3,
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "use_cpu": True,
        },
        "sampling": {"buckets": [{"min_duration": 0, "max_duration": 1000, "target_size": 3}]},
        "grpo": {
            "num_generations": 2,
            "per_device_train_batch_size": 2,
            "max_completion_length": 8,
            "learning_rate": 1e-4,
            "max_steps": 1,
            "save_strategy": "no",
            "use_cpu": True,
        },
        "early_stopping": {"window": 1, "reward_tolerance": 0.0, "std_tolerance": 0.0},
        "reference": {
            "size": {
                "hidden_size": 32,
                "num_layers": 1,
                "num_heads": 2,
                "vision_hidden_size": 32,
                "vision_depth": 1,
                "tokenizer": "bpe",
                "vocab_size": 320,
            },
            "difficulty_limit": 4,
            "eval_loader_options": loader,
            "eval_limit": 3,
            "baselines": ["uniform"],
        },
    }
    path = workdir / "reference-short.json"
    path.write_text(json.dumps(config))
    assert main(["rlvr", "reference", "--config", str(path)]) == 0

    meta = json.loads((out / "init" / "tiny_model.json").read_text())
    assert meta["tokenizer"] == "bpe" and 256 < meta["vocab_size"] <= 320 + 7
    report = json.loads((out / "evaluation.json").read_text())
    assert set(report["models"]) == {"sft", "sft+grpo", "uniform"}
    assert report["paired"]["sft+grpo - sft"]["n"] == 3
    assert len(json.loads((out / "selection.json").read_text())["sample_ids"]) == 3
    for checkpoint in (out / "sft" / "final", out / "grpo" / "final"):
        inputs = json.loads((checkpoint / INPUTS_FILE).read_text())
        assert inputs["encoding"] == "interleaved" and inputs["frames"]["fps"] == 0.5
        assert inputs["adapter_args"]["vision"] == "images"
    card = json.loads((out / "grpo" / "final" / "tiny_model.json").read_text())
    assert card["note"].endswith("SFT + GRPO")
    # The learned merges cover the training prompts: the template words are single tokens.
    from timelens_eval.tiny_models import load_processor

    tokenizer = load_processor(out / "grpo" / "final").tokenizer
    from timelens_eval.prompts import get_template

    instruction = get_template("timelens").render(bench_query(loader))
    ids = tokenizer(instruction, add_special_tokens=False)["input_ids"]
    assert len(ids) < len(instruction.encode()) / 2
    assert tokenizer.decode(ids) == instruction

    model = reference_model(out / "grpo" / "final", label="short")
    assert model.adapter == "transformers" and model.options["frames"].max_frames == 8
    bench = load_benchmark("synthetic-refined", **loader)
    options = RunOptions(
        output=workdir / "short-run" / "r.json", limit=2, bootstrap=0, **model.options
    )
    outcome = run_benchmark(
        build_adapter(model.adapter, model.args), bench, options, adapter_name=model.adapter
    )
    assert outcome.result is not None and outcome.result.summary.n == 2
    assert outcome.result.spec.prompt.encoding == "interleaved"
    assert outcome.result.spec.frames == model.options["frames"]
    # The adapter alone, given only the directory, takes the same inputs from the file.
    adapter = build_adapter("transformers", {"model": str(out / "grpo" / "final")})
    assert adapter.vision == "images" and adapter.default_encoding == "interleaved"
    assert adapter.default_frames == model.options["frames"]
    (out / "grpo" / "final" / INPUTS_FILE).write_text('{"frames": {"fps": -1}}')
    with pytest.raises(InputError, match=INPUTS_FILE):
        build_adapter("transformers", {"model": str(out / "grpo" / "final")})


def bench_query(loader: dict) -> str:
    from timelens_eval.benchmarks import load_benchmark

    return load_benchmark("synthetic-refined", **loader).samples[0].query


@pytest.mark.parametrize(("cache", "decodes"), [(1, 3), (2, 2)])
def test_images_mode_keeps_the_last_decoded_videos(workdir, monkeypatch, cache, decodes) -> None:
    """data.frame_cache: decoded frames are reused, least recently used out first."""
    from timelens_eval.rlvr.config import RLVRConfig
    from timelens_eval.rlvr.pipeline import _ImageRows, load_training_samples
    from timelens_eval.video import sampler

    raw = _images_config(workdir, workdir / "unused.json", "unused")
    raw["data"] = {**raw["data"], "frame_cache": cache, "selection": None}
    config = RLVRConfig.model_validate(raw)
    bench, samples = load_training_samples(config)
    by_video = {}
    for sample in samples:
        by_video.setdefault(sample.video_id, sample)
    a, b = list(by_video.values())[:2]
    calls: list[str] = []
    real = sampler.sample_frames

    def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sampler, "sample_frames", counting)
    transform = _ImageRows(config)
    for sample in (a, a, b, a):
        batch = {
            "video_path": [str(bench.video_path(sample))],
            "query": [sample.query],
            "duration": [float(sample.duration)],
        }
        assert len(transform(batch)["images"][0]) >= 1
    assert len(calls) == decodes
