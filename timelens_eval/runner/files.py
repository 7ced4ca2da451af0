"""Durable per-sample output of a run: the append-only writer, resume and spec checks.

A run's files, next to each other:

* ``NAME.json``: the header (:class:`~timelens_eval.store.RunResult`), written once
  every selected sample is recorded;
* ``NAME.samples.jsonl``: one :class:`~timelens_eval.store.SampleRecord` a line,
  appended (write + flush + fsync) as samples finish;
* ``NAME.json.spec``: the run's spec, written before the first sample, so that a
  rerun can check it is resuming the same run;
* ``NAME.json.lock``: an empty file locked while a process writes the run.

The sidecars' names end outside ``*.json``, so a glob of result headers never catches
them; :func:`timelens_eval.store.sidecar_kind` recognises them (and the names earlier
versions used, ``NAME.spec.json`` and ``NAME.lock``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError

from timelens_eval.errors import ConfigError, InputError, OutputError
from timelens_eval.store import CorruptLine, RunSpec, SampleRecord, read_sample_records

if TYPE_CHECKING:
    from timelens_eval.runner.options import Shard

__all__ = [
    "RunPaths",
    "default_output",
    "output_path",
    "SampleWriter",
    "RunLock",
    "SPEC_VOLATILE_FIELDS",
    "spec_differences",
    "read_spec",
    "write_spec",
    "write_samples",
    "recover_samples",
    "Recovered",
    "recover_stream",
    "writing",
    "RESUME_HINT",
    "file_sha256",
]

RESUME_HINT = "finished samples are kept: fix this and run the same command to resume"
"""What to do after an output error in the middle of a run."""


@contextlib.contextmanager
def writing(path: Path, hint: str | None = None) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into a one-line :class:`OutputError`."""
    try:
        yield
    except OSError as exc:
        raise OutputError(path, exc, hint) from None


SPEC_VOLATILE_FIELDS = frozenset({"created", "versions", "git_commit"})
"""Spec fields that may differ between the pieces of one run (resume, shards)."""


@dataclass(frozen=True)
class RunPaths:
    """Where one run's header, per-sample stream and spec live."""

    header: Path

    @classmethod
    def for_output(cls, output: str | Path) -> RunPaths:
        """Paths for ``--output``; a missing ``.json`` suffix is added."""
        path = Path(output)
        if path.suffix != ".json":
            path = path.with_name(path.name + ".json")
        return cls(path)

    @property
    def samples(self) -> Path:
        return self.header.with_name(self.header.stem + ".samples.jsonl")

    @property
    def spec(self) -> Path:
        return self.header.with_name(self.header.name + ".spec")

    @property
    def legacy_spec(self) -> Path:
        """Where earlier versions kept the spec (``NAME.spec.json``); read on resume."""
        return self.header.with_name(self.header.stem + ".spec.json")

    @property
    def lock(self) -> Path:
        return self.header.with_name(self.header.name + ".lock")

    @property
    def quarantine(self) -> Path:
        """Where corrupt lines of the stream are moved (``--quarantine-corrupt``)."""
        return self.header.with_name(self.header.stem + ".samples.corrupt.jsonl")

    def remove(self) -> None:
        """Delete the header, the stream and the spec (a fresh start)."""
        for path in (self.header, self.samples, self.spec, self.legacy_spec):
            with writing(path):
                path.unlink(missing_ok=True)


class SampleWriter:
    """Appends records durably from a background thread (group commit).

    :meth:`append` never blocks the event loop; the thread writes every record queued
    so far in one write, then flushes and fsyncs. A record is durable once the batch
    holding it is fsynced, so a killed process loses only the last batch in flight.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "ab")  # noqa: SIM115 (closed in close())
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="sample-writer", daemon=True)
        self._thread.start()

    def append(self, record: SampleRecord) -> None:
        """Queue one record for writing."""
        self._raise()
        self._queue.put((record.model_dump_json() + "\n").encode("utf-8"))

    def _raise(self) -> None:
        if isinstance(self._error, OSError):
            raise OutputError(self.path, self._error, RESUME_HINT)
        if self._error is not None:
            raise OutputError(self.path, str(self._error), RESUME_HINT)

    def _loop(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stop = True
            lines = [b for b in batch if b is not None]
            if not lines:
                continue
            try:
                self._fh.write(b"".join(lines))
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self.written += len(lines)
            except OSError as exc:  # disk full, removed folder: reported on next append
                self._error = exc
                return

    def close(self) -> None:
        """Write everything queued, fsync, and close the file."""
        self._queue.put(None)
        self._thread.join()
        try:
            self._fh.close()
        except OSError as exc:  # the last flush failed (disk full)
            self._error = self._error or exc
        self._raise()


class RunLock:
    """An exclusive lock on one run's output, so two processes never append to the
    same per-sample stream (e.g. two shards given the same ``--output``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def __enter__(self) -> RunLock:
        import fcntl

        with writing(self.path, hint="choose another --output"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+")  # noqa: SIM115 (closed in __exit__)
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise ConfigError(
                f"another run is writing {self.path.name.removesuffix('.lock')} "
                f"(its lock {self.path} is held); wait for it or choose another --output"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        # The (empty) lock file stays: unlinking it would let a process that opened
        # it meanwhile lock an orphaned file.
        self._fh.close()


class Recovered(NamedTuple):
    """The records of a stream being resumed, and how many corrupt lines were set aside."""

    records: list[SampleRecord]
    quarantined: int


def recover_stream(path: Path, *, quarantine: Path | None = None) -> Recovered:
    """Records already in ``path``, after cutting off a torn last line.

    A writer killed mid-write can leave a partial last line; it is removed from the
    file (so appending continues on a clean line) and the sample is run again. A corrupt
    line elsewhere raises :class:`InputError` naming it, unless ``quarantine`` is given:
    then each such line is appended, as it was, to that file, removed from the stream,
    and counted; its sample runs again.
    """
    if not path.exists():
        return Recovered([], 0)
    if not stat.S_ISREG(path.stat().st_mode):
        raise InputError("not a regular file (a device, pipe or socket)", path=path)
    with writing(path, RESUME_HINT), open(path, "rb+") as fh:
        cut = _complete_length(fh)
        if cut != fh.seek(0, os.SEEK_END):
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
    corrupt: list[CorruptLine] | None = [] if quarantine is not None else None
    try:
        records = read_sample_records(path, corrupt)
    except InputError as exc:
        raise InputError(
            f"{exc.reason}; pass --quarantine-corrupt to set such lines aside and run their "
            "samples again (or --fresh to start over)",
            path=path,
            line=exc.line,
        ) from None
    if not corrupt:
        return Recovered(records, 0)
    assert quarantine is not None
    with writing(quarantine, RESUME_HINT), open(quarantine, "ab") as fh:
        for line in corrupt:
            fh.write(line.raw if line.raw.endswith(b"\n") else line.raw + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    _drop_lines(path, {line.line for line in corrupt})
    return Recovered(records, len(corrupt))


def _complete_length(fh: Any, block: int = 1 << 20) -> int:
    """Bytes of ``fh`` up to and including its last newline (read from the end)."""
    end = fh.seek(0, os.SEEK_END)
    position = end
    while position > 0:
        start = max(0, position - block)
        fh.seek(start)
        found = fh.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


def _drop_lines(path: Path, numbers: set[int]) -> None:
    """Rewrite ``path`` without the lines ``numbers`` (1-based), atomically and durably."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(tmp, RESUME_HINT):
        with open(path, "rb") as source, open(tmp, "wb") as target:
            for number, line in enumerate(source, start=1):
                if number not in numbers:
                    target.write(line)
            target.flush()
            os.fsync(target.fileno())
        tmp.replace(path)


def recover_samples(path: Path) -> list[SampleRecord]:
    """Records already in ``path`` (see :func:`recover_stream`; corrupt lines raise)."""
    return recover_stream(path).records


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    """Replace ``path`` atomically and durably (a fsynced ``.tmp`` sibling, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
        with open(tmp, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)


def write_spec(spec: RunSpec, path: Path) -> None:
    """Write the spec sidecar atomically and durably."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    _write_lines(path, [spec.model_dump_json(indent=2)])


def write_samples(records: Iterable[SampleRecord], path: Path) -> None:
    """Rewrite a per-sample stream with ``records``, atomically and durably."""
    _write_lines(path, (record.model_dump_json() for record in records))


def read_spec(path: Path) -> RunSpec:
    """Read a spec sidecar; errors name the file."""
    from timelens_eval.json_limits import read_json_file

    raw = read_json_file(path, header=True)
    try:
        return RunSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"not a run spec ({where}: {first['msg']})", path=path) from None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def spec_differences(
    a: RunSpec, b: RunSpec, *, ignore: frozenset[str] = SPEC_VOLATILE_FIELDS
) -> list[str]:
    """Human-readable ``field: a != b`` lines for every differing spec field."""
    fa = _flatten(a.model_dump(mode="json", exclude=set(ignore)))
    fb = _flatten(b.model_dump(mode="json", exclude=set(ignore)))
    lines = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, "<absent>"), fb.get(key, "<absent>")
        if va != vb:
            lines.append(f"{key}: {json.dumps(va)} != {json.dumps(vb)}")
    return lines


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def _result_name(benchmark: str, shard: Shard | None) -> str:
    """``<benchmark>[.shard-i-of-N].json``."""
    suffix = f".shard-{shard.index}-of-{shard.count}" if shard is not None else ""
    return f"{_slug(benchmark)}{suffix}.json"


def default_output(
    runs_dir: Path, adapter: str, model: str, benchmark: str, shard: Shard | None
) -> Path:
    """``runs/<adapter>/<model>/<benchmark>[.shard-i-of-N].json``: two adapters that
    report the same model name never share a folder."""
    return runs_dir / _slug(adapter) / _slug(model) / _result_name(benchmark, shard)


_SHARD_NAME = re.compile(r"\.shard-\d+-of-\d+$")


def output_path(output: Path, benchmark: str, shard: Shard | None) -> Path:
    """Where ``--output`` puts a run's header. One rule for every run:

    * a path ending in ``.json`` (and not an existing folder) is the header itself; a
      shard's name gets ``.shard-i-of-N`` before ``.json``, so the shards of one command
      line never share files (a name that already says which shard it is stays);
    * any other path is a folder, which gets ``<benchmark>[.shard-i-of-N].json``.
    """
    if output.suffix.lower() == ".json" and not output.is_dir():
        if shard is None or _SHARD_NAME.search(output.stem):
            return output
        return output.with_name(f"{output.stem}.shard-{shard.index}-of-{shard.count}.json")
    return output / _result_name(benchmark, shard)
