"""Run an adapter over a benchmark: decoding ahead, concurrent requests, retries, resume.

The pipeline of one run::

    samples ─► [worker processes: frames + prompt] ─► bounded window ─► adapter.ground()
            (up to ``concurrency`` at once, retried with backoff) ─► parse + score ─►
            SampleRecord appended durably ─► (all done) header with spec and metrics

Every finished sample is fsynced to ``NAME.samples.jsonl`` before it counts as done,
so an interrupted run loses only the samples in flight, and running the same command
again resumes it. See ``docs/running.md``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timelens_eval.adapters import (
    Adapter,
    AdapterError,
    GroundingOutput,
    GroundingRequest,
)
from timelens_eval.benchmarks.base import Benchmark, Sample
from timelens_eval.errors import ConfigError, TimelensError
from timelens_eval.protocol import Protocol
from timelens_eval.runner.files import (
    RunLock,
    RunPaths,
    SampleWriter,
    default_output,
    output_path,
    read_spec,
    recover_samples,
    recover_stream,
    spec_differences,
    write_samples,
    write_spec,
    writing,
)
from timelens_eval.runner.frames import Prepared, PrepareFailure, PrepareJob
from timelens_eval.runner.guards import (
    AnswerPolicy,
    InvalidOutput,
    checked_output,
    over_cap_note,
    redacted_spec,
    server_wait,
)
from timelens_eval.runner.options import RunOptions, parse_shard, select_samples
from timelens_eval.runner.parse_worker import BatchedParser
from timelens_eval.runner.preflight import MISSING_VIDEO, missing_video_ids
from timelens_eval.runner.progress import RunProgress
from timelens_eval.runner.provenance import Redactor, build_spec
from timelens_eval.store import RunResult, RunSpec, SampleRecord

__all__ = [
    "RunOutcome",
    "summarize_records",
    "write_run_header",
    "run_benchmark",
    "arun_benchmark",
]


def summarize_records(
    records: Sequence[SampleRecord], protocol: Protocol, *, bootstrap: int, seed: int
) -> Any:
    """Metrics of ``records`` in benchmark order (so the result is order-independent);
    samples whose video was missing are left out and counted in ``missing_videos``."""
    from timelens_eval.metrics import summarize

    ordered = sorted(records, key=lambda r: (r.meta.get("index", 0), r.sample_id))
    scored = [r for r in ordered if not r.meta.get(MISSING_VIDEO)]
    summary = summarize(
        [r.iou for r in scored],
        [r.status for r in scored],
        [r.video_id for r in scored],
        protocol,
        bootstrap=bootstrap,
        seed=seed,
    )
    if len(scored) < len(ordered):
        summary.missing_videos = len(ordered) - len(scored)
    return summary


@dataclass
class RunOutcome:
    """What a run did; ``result`` is None when it stopped before every sample was done."""

    paths: RunPaths
    result: RunResult | None
    total: int
    resumed: int
    ran: int
    errors: int
    seconds: float
    missing_videos: int = 0
    """Samples recorded as errors without a request because their video is missing."""
    quarantined: int = 0
    """Corrupt lines moved aside on resume (``quarantine_corrupt``); their samples ran again."""


def _unit_hash(*parts: object) -> float:
    """A number in ``[0, 1)`` from ``parts``, stable across processes."""
    import hashlib

    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class _Run:
    """State of one run in progress."""

    def __init__(
        self,
        adapter: Adapter,
        benchmark: Benchmark,
        options: RunOptions,
        spec: RunSpec,
        writer: SampleWriter,
        progress: RunProgress,
        redact: Redactor,
    ) -> None:
        self.adapter, self.benchmark, self.options = adapter, benchmark, options
        self.spec, self.writer, self.progress, self.redact = spec, writer, progress, redact
        self.errors = 0
        self.ran = 0
        protocol, timeout = options.protocol, options.parse_timeout
        self.policy = AnswerPolicy(redact, options.max_answer_chars, protocol, timeout)
        self.parser = BatchedParser(protocol.parse, protocol.out_of_range_tolerance, timeout)

    def _job(self, sample: Sample) -> PrepareJob | None:
        path = self.benchmark.video_path(sample)
        if path is None:
            return None
        assert self.spec.frames is not None and self.spec.prompt is not None
        return PrepareJob(
            video=path,
            query=sample.query,
            duration=sample.duration,
            clip=sample.clip,
            frames=self.spec.frames,
            template=self.spec.prompt.template,
            encoding=self.spec.prompt.encoding,
            owner=os.getpid(),
        )

    def _delay(self, sample_id: str, attempt: int, error: AdapterError | None) -> float:
        """Seconds before the next try: the adapter's ``retry_after`` when it gives one
        within ``max_retry_after``, else exponential backoff with jitter inside
        ``backoff_max`` (half of it fixed, half spread by a hash of the sample and
        attempt, so concurrent failures do not retry in lockstep)."""
        asked = server_wait(
            error.retry_after if error is not None else None, self.options.max_retry_after
        )
        if asked is not None:
            return asked
        full = min(self.options.backoff_max, self.options.backoff_base * 2 ** (attempt - 1))
        return full * (0.5 + 0.5 * _unit_hash(sample_id, attempt))

    async def _call(self, request: GroundingRequest) -> tuple[GroundingOutput | None, int, str]:
        """Call the adapter with retries: ``(output or None, attempts, last error)``."""
        timeout = self.options.request_timeout
        last = ""
        for attempt in range(1, self.options.max_attempts + 1):
            retryable, failure = True, None
            try:
                if timeout is None:
                    output = await self.adapter.ground(request)
                else:
                    output = await asyncio.wait_for(self.adapter.ground(request), timeout)
                return checked_output(output), attempt, ""
            except InvalidOutput as exc:  # the adapter's reply is unusable: not retried
                last, retryable = f"invalid adapter output: {exc}", False
            except AdapterError as exc:
                last, retryable, failure = f"AdapterError: {exc}", exc.retryable, exc
                last += over_cap_note(exc.retry_after, self.options.max_retry_after)
            except asyncio.TimeoutError:
                last = f"timed out after {timeout:g} s"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an adapter bug: recorded, never retried
                last, retryable = f"{type(exc).__name__}: {exc}", False
            if not retryable or attempt == self.options.max_attempts:
                return None, attempt, last
            await asyncio.sleep(self._delay(request.sample_id, attempt, failure))
        return None, self.options.max_attempts, last  # pragma: no cover

    async def _record(
        self,
        index: int,
        sample: Sample,
        output: GroundingOutput | None,
        attempts: int,
        error: str,
        meta: dict[str, Any],
    ) -> SampleRecord:
        """The record of one sample (see :func:`~timelens_eval.runner.guards.record_fields`)."""
        from timelens_eval.runner.guards import cut_error, record_fields

        base: dict[str, Any] = {
            "sample_id": sample.sample_id,
            "video_id": sample.video_id,
            "query": sample.query,
            "duration": sample.duration,
            "gt": [tuple(w) for w in sample.gt],
            "sample_hash": sample.content_hash(),
            "attempts": attempts,
            "meta": {"index": index, **_sample_labels(sample), **meta},
        }
        if output is None:
            error = cut_error(self.redact(error) or "")
            return SampleRecord(**base, status="error", iou=0.0, error=error)
        fields, notes = await record_fields(output, sample, self.policy, self.parser)
        base["meta"].update(notes)
        return SampleRecord(**base, **fields)

    async def one(
        self,
        index: int,
        sample: Sample,
        prepared: asyncio.Future[Prepared | PrepareFailure] | None,
        gate: asyncio.Semaphore,
        window: asyncio.Semaphore,
    ) -> None:
        """Finish one sample: wait for its frames, call the model, record it."""
        ready: Prepared | PrepareFailure | None = None
        try:
            meta: dict[str, Any] = {}
            message = None
            output, attempts, error = None, 0, ""
            try:
                ready = await prepared if prepared is not None else None
            except BrokenProcessPool:
                raise TimelensError(
                    f"a frame-decoding worker died (sample {sample.sample_id}); finished "
                    "samples are saved, run the same command again to resume"
                ) from None
            if isinstance(ready, PrepareFailure):
                error = ready.message
            else:
                if ready is not None:
                    taken, ready = ready, None
                    message = taken.take()
                    meta = {"frames": len(message.images), "decode_s": round(taken.seconds, 4)}
                request = GroundingRequest(
                    sample_id=sample.sample_id,
                    query=sample.query,
                    duration=sample.duration,
                    video_path=self.benchmark.video_path(sample),
                    message=message,
                    generation=self.options.generation,
                    clip=sample.clip,
                )
                async with gate:
                    output, attempts, error = await self._call(request)
            try:
                record = await self._record(index, sample, output, attempts, error, meta)
            except (ValueError, TypeError) as exc:  # e.g. an adapter returned a bad field
                bad = f"invalid adapter output: {type(exc).__name__}: {exc}"
                record = await self._record(index, sample, None, attempts, bad, meta)
            self.writer.append(record)
            self.ran += 1
            self.errors += int(record.status == "error")
            self.progress.advance(error=record.status == "error", cost=record.cost_usd)
        finally:
            if isinstance(ready, Prepared):  # cancelled before its frames were taken
                ready.discard()
            window.release()

    async def run(self, pending: list[tuple[int, Sample]], pool: Executor | None) -> None:
        """Feed ``pending`` through decoding and the adapter."""
        from timelens_eval.runner.frames import prepare_message

        loop = asyncio.get_running_loop()
        concurrency = self.adapter.max_in_flight or self.options.concurrency
        workers = getattr(pool, "_max_workers", 0)
        ahead = self.options.prefetch or concurrency + 2 * max(workers, 1)
        gate = asyncio.Semaphore(concurrency)
        window = asyncio.Semaphore(ahead)
        tasks: set[asyncio.Task[None]] = set()
        failed: list[BaseException] = []

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failed.append(task.exception())  # type: ignore[arg-type]

        try:
            for index, sample in pending:
                await window.acquire()
                if failed:
                    break
                future: asyncio.Future[Prepared | PrepareFailure] | None = None
                if pool is not None:
                    job = self._job(sample)
                    if job is None:
                        future = loop.create_future()
                        future.set_result(PrepareFailure("the sample names no video file"))
                    else:
                        future = loop.run_in_executor(pool, prepare_message, job)
                task = asyncio.create_task(self.one(index, sample, future, gate, window))
                tasks.add(task)
                task.add_done_callback(done)
            if tasks:
                await asyncio.gather(*list(tasks), return_exceptions=True)
        finally:
            for task in list(tasks):
                task.cancel()
        if failed:
            raise failed[0]


def _sample_labels(sample: Sample) -> dict[str, Any]:
    """Scalar labels of a sample worth keeping per record (e.g. ``error_category``)."""
    category = sample.meta.get("error_category")
    return {} if category is None else {"error_category": str(category)}


def _check_resume(paths: RunPaths, spec: RunSpec) -> RunSpec:
    """The spec to keep: the earlier one when resuming (it must match). A spec sidecar
    under the name earlier versions used (``NAME.spec.json``) is read too, and without
    a sidecar the header's spec (a merged run has no sidecar)."""
    found = next((p for p in (paths.spec, paths.legacy_spec) if p.exists()), None)
    if found is not None:
        earlier = read_spec(found)
    elif paths.header.exists():  # e.g. written by `merge`: the header holds the spec
        from timelens_eval.store import read_result

        earlier = read_result(paths.header).spec
    elif paths.samples.exists() and paths.samples.stat().st_size > 0:
        raise ConfigError(
            f"{paths.samples} exists without its spec file {paths.spec.name}; "
            "pass --fresh to start over or choose another --output"
        )
    else:
        return spec
    diff = spec_differences(earlier, spec)
    if diff:
        shown = "; ".join(diff[:5]) + (f"; and {len(diff) - 5} more" if len(diff) > 5 else "")
        raise ConfigError(
            f"{paths.header} holds a different run (earlier != now: {shown}); "
            "pass --fresh to overwrite it or choose another --output"
        )
    return earlier


def write_run_header(spec: RunSpec, summary: Any, paths: RunPaths) -> RunResult:
    """Write the header of a finished run (its samples file is complete) and return it."""
    from timelens_eval.runner.files import file_sha256
    from timelens_eval.store import write_result

    result = RunResult(
        spec=spec,
        summary=summary,
        samples_file=paths.samples.name,
        samples_sha256=file_sha256(paths.samples),
    )
    write_result(result, paths.header)
    return result


def _drop_errors(paths: RunPaths, records: list[SampleRecord]) -> list[SampleRecord]:
    """Rewrite the stream without failed samples (``--retry-errors``)."""

    kept = [r for r in records if r.status != "error"]
    if len(kept) == len(records):
        return records
    write_samples(kept, paths.samples)
    return kept


async def arun_benchmark(
    adapter: Adapter,
    benchmark: Benchmark,
    options: RunOptions | None = None,
    *,
    adapter_name: str | None = None,
    spec: RunSpec | None = None,
) -> RunOutcome:
    """Run ``adapter`` over ``benchmark`` (resuming earlier output); see the module doc."""

    from timelens_eval.runner.frames import free_orphaned_blocks, make_pool

    options = options or RunOptions()
    started = time.perf_counter()
    shard = parse_shard(options.shard)
    name = adapter_name or adapter.name
    spec = spec or build_spec(adapter, name, benchmark, options)
    if options.output is not None:
        output = output_path(Path(options.output), benchmark.name, shard)
    else:
        output = default_output(options.runs_dir, name, adapter.model, benchmark.name, shard)
    paths = RunPaths.for_output(output)
    selected = select_samples(benchmark.samples, options.limit, shard)
    missing = missing_video_ids(  # the pre-flight check, before anything is written
        adapter, benchmark, [s for _, s in selected], allow_missing=options.allow_missing
    )
    redact = Redactor.for_adapter(
        adapter.args, adapter.secret_args, os.environ, adapter.secret_values()
    )
    spec = redacted_spec(spec, redact)
    with writing(paths.header):  # "-o" under a file, or where nothing may be written
        paths.header.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(paths.lock):  # one writer per output
        if options.fresh:
            paths.remove()
        spec = _check_resume(paths, spec)
        write_spec(spec, paths.spec)
        paths.legacy_spec.unlink(missing_ok=True)  # now kept under the current name
        with writing(paths.header):
            paths.header.unlink(missing_ok=True)  # a header must describe the whole stream

        wanted = {s.sample_id for _, s in selected}
        if len(wanted) != len(selected):
            raise ConfigError(f"benchmark {benchmark.name!r} has duplicate sample ids")
        quarantine = paths.quarantine if options.quarantine_corrupt else None
        records, quarantined = recover_stream(paths.samples, quarantine=quarantine)
        if options.retry_errors:
            records = _drop_errors(paths, records)
        have = {r.sample_id for r in records}
        pending = [(i, s) for i, s in selected if s.sample_id not in have]
        resumed = len(selected) - len(pending)
        skipped = [(i, s) for i, s in pending if s.sample_id in missing]
        pending = [(i, s) for i, s in pending if s.sample_id not in missing]

        progress = RunProgress(
            f"{adapter.model} · {benchmark.name}", len(selected), resumed, mode=options.progress
        )
        writer = SampleWriter(paths.samples)
        run = _Run(adapter, benchmark, options, spec, writer, progress, redact)
        for index, sample in skipped:  # missing video, --allow-missing: no request
            error = f"video not found: {benchmark.video_path(sample)}"
            writer.append(await run._record(index, sample, None, 0, error, {MISSING_VIDEO: True}))
            progress.advance(error=True, cost=None)
        pool = None
        if adapter.needs_frames and pending:
            free_orphaned_blocks()
            pool = make_pool(options.decode_workers)
        try:
            await run.run(pending, pool)
        finally:
            progress.close()
            try:
                writer.close()
            finally:
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    free_orphaned_blocks()  # also those a killed run's workers wrote late

        records = [r for r in recover_samples(paths.samples) if r.sample_id in wanted]
        seen: set[str] = set()
        unique = []
        for record in records:
            if record.sample_id not in seen:
                seen.add(record.sample_id)
                unique.append(record)
        result = None
        if len(unique) == len(selected):
            summary = summarize_records(
                unique, options.protocol, bootstrap=options.bootstrap, seed=options.seed
            )
            result = write_run_header(spec, summary, paths)
    return RunOutcome(
        paths=paths,
        result=result,
        total=len(selected),
        resumed=resumed,
        ran=run.ran,
        errors=sum(r.status == "error" for r in unique),
        seconds=time.perf_counter() - started,
        missing_videos=sum(bool(r.meta.get(MISSING_VIDEO)) for r in unique),
        quarantined=quarantined,
    )


def run_benchmark(
    adapter: Adapter,
    benchmark: Benchmark,
    options: RunOptions | None = None,
    *,
    adapter_name: str | None = None,
) -> RunOutcome:
    """Synchronous :func:`arun_benchmark`; closes the adapter afterwards."""

    async def main() -> RunOutcome:
        try:
            return await arun_benchmark(adapter, benchmark, options, adapter_name=adapter_name)
        finally:
            await adapter.aclose()

    return asyncio.run(main())
