"""Benchmark registry and loaders."""

from timelens_eval.benchmarks.base import (
    BENCHMARKS,
    Benchmark,
    BenchmarkSpec,
    Sample,
    benchmark_pairs,
    file_sha256,
    get_benchmark_spec,
    load_benchmark,
    register_benchmark,
)

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "BenchmarkSpec",
    "Sample",
    "benchmark_pairs",
    "file_sha256",
    "get_benchmark_spec",
    "load_benchmark",
    "register_benchmark",
]
