"""The built-in benchmarks. Importing this module registers them.

Loader functions live next to their file format (``charades.py``, ``activitynet.py``, ...).
Each original benchmark names its refined counterpart in ``pair``.
"""

from __future__ import annotations

from timelens_eval.benchmarks.base import BENCHMARKS, BenchmarkSpec, register_benchmark

_TIMELENS_BENCH = "https://huggingface.co/datasets/TencentARC/TimeLens-Bench"

_BUILTIN = [
    BenchmarkSpec(
        name="charades-sta",
        title="Charades-STA test (original)",
        loader="timelens_eval.benchmarks.charades:load_charades_sta",
        variant="original",
        pair="charades-timelens",
        group="charades",
        default_annotations="data/charades_sta/charades_sta_test.txt",
        default_videos="data/charades_sta/videos",
        official="https://github.com/jiyanggao/TALL (annotations); "
        "https://prior.allenai.org/projects/charades (videos, Charades_v1_test.csv)",
    ),
    BenchmarkSpec(
        name="activitynet-captions",
        title="ActivityNet Captions val_2 (original)",
        loader="timelens_eval.benchmarks.activitynet:load_activitynet_captions",
        variant="original",
        pair="activitynet-timelens",
        group="activitynet",
        default_annotations="data/activitynet/val_2.json",
        default_videos="data/activitynet/videos",
        official="https://cs.stanford.edu/people/ranjaykrishna/densevid/",
    ),
    BenchmarkSpec(
        name="qvhighlights",
        title="QVHighlights val (original)",
        loader="timelens_eval.benchmarks.qvhighlights:load_qvhighlights",
        variant="original",
        pair="qvhighlights-timelens",
        group="qvhighlights",
        default_annotations="data/qvhighlights/highlight_val_release.jsonl",
        default_videos="data/qvhighlights/videos",
        official="https://github.com/jayleicn/moment_detr (data/highlight_val_release.jsonl)",
    ),
    BenchmarkSpec(
        name="tacos",
        title="TACoS test",
        loader="timelens_eval.benchmarks.tacos:load_tacos",
        group="tacos",
        default_annotations="data/tacos/test.json",
        default_videos="data/tacos/videos",
        official="https://github.com/microsoft/VideoX (2D-TAN/data/TACoS/test.json)",
    ),
    BenchmarkSpec(
        name="charades-timelens",
        title="Charades-TimeLens (refined)",
        loader="timelens_eval.benchmarks.timelens_bench:load_timelens_bench",
        variant="refined",
        pair="charades-sta",
        group="charades",
        default_annotations="data/TimeLens-Bench/charades-timelens.json",
        default_videos="data/TimeLens-Bench/videos/charades",
        official=_TIMELENS_BENCH,
        run_protocol="timelens-live",
    ),
    BenchmarkSpec(
        name="activitynet-timelens",
        title="ActivityNet-TimeLens (refined)",
        loader="timelens_eval.benchmarks.timelens_bench:load_timelens_bench",
        variant="refined",
        pair="activitynet-captions",
        group="activitynet",
        default_annotations="data/TimeLens-Bench/activitynet-timelens.json",
        default_videos="data/TimeLens-Bench/videos/activitynet",
        official=_TIMELENS_BENCH,
        run_protocol="timelens-live",
    ),
    BenchmarkSpec(
        name="qvhighlights-timelens",
        title="QVHighlights-TimeLens (refined)",
        loader="timelens_eval.benchmarks.timelens_bench:load_timelens_bench",
        variant="refined",
        pair="qvhighlights",
        group="qvhighlights",
        default_annotations="data/TimeLens-Bench/qvhighlights-timelens.json",
        default_videos="data/TimeLens-Bench/videos/qvhighlights",
        official=_TIMELENS_BENCH,
        run_protocol="timelens-live",
    ),
    BenchmarkSpec(
        name="timelens-100k",
        title="TimeLens-100K (training data)",
        loader="timelens_eval.benchmarks.timelens_bench:load_timelens_100k",
        split="train",
        default_annotations="data/TimeLens-100K/timelens-100k.jsonl",
        default_videos="data/TimeLens-100K/videos",
        official="https://huggingface.co/datasets/TencentARC/TimeLens-100K",
    ),
    BenchmarkSpec(
        name="synthetic-original",
        title="Synthetic (original: with injected annotation errors)",
        loader="timelens_eval.synthetic.loader:load_synthetic",
        variant="original",
        pair="synthetic-refined",
        group="synthetic",
        options={"variant": "original"},
    ),
    BenchmarkSpec(
        name="synthetic-refined",
        title="Synthetic (refined: exact annotations)",
        loader="timelens_eval.synthetic.loader:load_synthetic",
        variant="refined",
        pair="synthetic-original",
        group="synthetic",
        options={"variant": "refined"},
    ),
]

for _spec in _BUILTIN:
    if _spec.name not in BENCHMARKS:
        register_benchmark(_spec)
