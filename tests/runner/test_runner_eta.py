"""The progress ETA leaves out the start-up before the first sample (model loading,
decoding workers, warm-up), which would otherwise make the first estimate far too long."""

from __future__ import annotations

from timelens_eval.runner import progress as runner_progress
from timelens_eval.runner.progress import RunProgress


def test_eta_is_measured_from_the_first_finished_sample(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(runner_progress.time, "perf_counter", lambda: clock[0])
    progress = RunProgress("ref · synthetic-refined", 215, 0, mode="lines")
    clock[0] += 30.0  # loading the model and starting the workers
    progress.advance(error=False, cost=None)
    assert progress.rate == 0.0 and "ETA -" in progress.line()  # one sample: no rate yet
    for _ in range(9):
        clock[0] += 0.1  # then a sample every 0.1 s
        progress.advance(error=False, cost=None)
    assert abs(progress.rate - 10.0) < 1e-6
    assert "ETA 0:20" in progress.line()  # 205 samples left at 10/s, not 10:38
