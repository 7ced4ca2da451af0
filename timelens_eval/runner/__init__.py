"""The runner: an adapter over a benchmark, and models x benchmarks, durably and resumably.

The public face is this module; the pieces inside:

* :mod:`~timelens_eval.runner.options`: :class:`RunOptions`, shards and the samples
  they select;
* :mod:`~timelens_eval.runner.engine`: one run (decoding ahead, concurrent requests,
  retries, parse and score, resume), :func:`arun_benchmark` and :func:`run_benchmark`;
* :mod:`~timelens_eval.runner.matrix`: :func:`run_matrix`, every model on every
  benchmark;
* :mod:`~timelens_eval.runner.defaults`: the models and benchmarks of the main job;
* :mod:`~timelens_eval.runner.frames`: frames and prompts built in worker processes;
* :mod:`~timelens_eval.runner.files`: a run's files (header, sample stream, spec, lock);
* :mod:`~timelens_eval.runner.provenance`: the recorded spec, versions and secrets;
* :mod:`~timelens_eval.runner.guards`: checks between an adapter and the sample file;
* :mod:`~timelens_eval.runner.parse_worker`: answers parsed in a separate process;
* :mod:`~timelens_eval.runner.preflight`: every video present before the first request;
* :mod:`~timelens_eval.runner.progress`: the progress bar or lines;
* :mod:`~timelens_eval.runner.merge`: the shards of one run joined.

See ``docs/running.md``.
"""

from timelens_eval.runner.engine import RunOutcome, arun_benchmark, run_benchmark
from timelens_eval.runner.matrix import ModelEntry, run_matrix
from timelens_eval.runner.merge import merge_shards
from timelens_eval.runner.options import RunOptions, Shard

__all__ = [
    "ModelEntry",
    "RunOptions",
    "RunOutcome",
    "Shard",
    "arun_benchmark",
    "merge_shards",
    "run_benchmark",
    "run_matrix",
]
