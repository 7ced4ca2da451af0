"""``timelens-eval data download``: a benchmark's files from the Hugging Face Hub.

For one benchmark held in a Hub dataset repository (:data:`~.sources.HUB_SOURCES`):

1. **Pin the revision.** The first download resolves the revision (default ``main``)
   to a commit and records it, with the repository's file list, in the folder's
   manifest (:mod:`~.manifest`). Later downloads use that commit without asking the
   Hub again, unless ``revision`` names another one.
2. **Fetch** the annotation file and the benchmark's video shards with
   ``huggingface_hub.hf_hub_download`` at that commit, into the Hub cache
   (``HF_HOME``/``HF_HUB_CACHE``; files already there, e.g. from ``hf download``, are
   reused). ``HF_ENDPOINT`` and the user's token (``HF_TOKEN`` or ``hf auth login``)
   are honoured as for any Hub client. A file downloaded completely is never fetched
   again; a dropped connection is resumed from the byte where it stopped.
3. **Place** a copy of the annotation file where the benchmark's loader reads it and
   **extract** each shard safely (:mod:`~.archive`) into the benchmark's videos folder,
   recording each finished shard in the manifest. Shards are fetched only while videos
   the annotation names are missing: first those not extracted yet, then, if videos are
   still missing (deleted since), the others again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timelens_eval.benchmarks.base import file_sha256, get_benchmark_spec
from timelens_eval.datafiles.archive import extract_archive
from timelens_eval.datafiles.manifest import (
    DownloadManifest,
    ShardRecord,
    read_manifest,
    write_manifest,
)
from timelens_eval.datafiles.sources import HubSource, hub_source, local_path
from timelens_eval.errors import ConfigError, TimelensError

__all__ = ["DownloadError", "DownloadReport", "download_benchmark"]

Note = Callable[[str], None]


class DownloadError(TimelensError):
    """The Hub could not be reached, or refused or lacks what was asked for."""


@dataclass
class DownloadReport:
    """What :func:`download_benchmark` did and where the files are."""

    name: str
    repo_id: str
    commit: str
    annotations: Path
    videos: Path
    shards: int
    """Video shards of the benchmark in the repository."""
    extracted: int
    """Shards extracted by this call (0 when everything was already there)."""
    videos_present: int
    videos_missing: int
    repinned_from: str | None = None
    """The commit pinned before, when ``revision`` moved the pin."""


def _hub() -> Any:
    try:
        import huggingface_hub
        import huggingface_hub.constants  # noqa: F401  (a submodule the package does not load)
    except ImportError:
        raise ConfigError(
            "data download needs huggingface_hub (a dependency of timelens-eval): "
            "pip install huggingface_hub"
        ) from None
    return huggingface_hub


def _endpoint(hub: Any) -> str:
    """``HF_ENDPOINT`` as set now (the library reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or hub.constants.ENDPOINT).rstrip("/")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _failure(exc: Exception, what: str, endpoint: str) -> DownloadError:
    """One line saying why a Hub call failed."""
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        why = "the repository is gated: accept its terms on the Hub, then log in"
    elif isinstance(exc, errors.RepositoryNotFoundError):
        why = "repository not found (a private one needs `hf auth login` or HF_TOKEN)"
    elif isinstance(exc, errors.RevisionNotFoundError):
        why = "revision not found"
    elif isinstance(exc, getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError)):
        why = "file not found in the repository"
    elif isinstance(exc, errors.HfHubHTTPError):
        why = _first_line(exc)
    else:
        why = f"cannot reach {endpoint} ({type(exc).__name__}: {_first_line(exc)})"
    return DownloadError(f"{what}: {why}")


def _is_transfer_error(exc: Exception) -> bool:
    root = type(exc).__module__.split(".")[0]
    return root in {"huggingface_hub", "httpx", "httpx2", "httpcore", "httpcore2"} or isinstance(
        exc, OSError
    )


class _FolderLock:
    """One download per folder at a time."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".download.lock"
        self._fh: Any = None

    def __enter__(self) -> _FolderLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")  # noqa: SIM115 (closed in __exit__)
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise ConfigError(
                f"another download is writing {self.path.parent}; wait for it to finish"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


class _Repo:
    """Calls to one Hub dataset repository, at one commit once pinned."""

    def __init__(self, source: HubSource) -> None:
        self.hub = _hub()
        self.source = source
        self.endpoint = _endpoint(self.hub)

    def pin(self, revision: str) -> tuple[str, list[str]]:
        """``revision`` resolved to a commit, and the repository's files at that commit."""
        try:
            info = self.hub.HfApi(endpoint=self.endpoint).dataset_info(
                self.source.repo_id, revision=revision
            )
        except Exception as exc:
            if _is_transfer_error(exc):
                what = f"{self.source.repo_id}@{revision}"
                raise _failure(exc, what, self.endpoint) from None
            raise
        if not info.sha:
            raise DownloadError(f"{self.endpoint} gave no commit for {self.source.repo_id}")
        return info.sha, sorted(s.rfilename for s in info.siblings or [])

    def fetch(self, commit: str, path: str) -> Path:
        """The local path of ``path`` at ``commit`` (downloaded into the Hub cache if needed)."""
        try:
            local = self.hub.hf_hub_download(
                self.source.repo_id,
                path,
                repo_type="dataset",
                revision=commit,
                endpoint=self.endpoint,
            )
        except Exception as exc:
            if _is_transfer_error(exc):
                what = f"{self.source.repo_id}@{commit[:12]}: {path}"
                raise _failure(exc, what, self.endpoint) from None
            raise
        return Path(local)


def _place(cached: Path, dest: Path) -> str:
    """Copy ``cached`` to ``dest`` (atomically) unless it is there already; its SHA-256."""
    digest = file_sha256(cached)
    if dest.is_file() and file_sha256(dest) == digest:
        return digest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    os.close(fd)
    try:
        shutil.copyfile(cached, tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return digest


def _pinned(
    repo: _Repo, folder: Path, revision: str | None, note: Note
) -> tuple[DownloadManifest, str | None]:
    """The folder's manifest, created or moved to ``revision`` when needed."""
    manifest = read_manifest(folder)
    if manifest is not None and manifest.repo_id != repo.source.repo_id:
        raise ConfigError(
            f"{folder} holds a copy of {manifest.repo_id}, not {repo.source.repo_id}; "
            "choose another --root"
        )
    if manifest is not None and revision in (None, manifest.commit):
        return manifest, None
    wanted = revision or "main"
    commit, files = repo.pin(wanted)
    if manifest is not None and manifest.commit == commit:
        manifest.requested_revision = wanted
        return manifest, None
    before = manifest.commit if manifest is not None else None
    if before is not None:
        note(f"{repo.source.repo_id}: moving the pinned commit {before[:12]} -> {commit[:12]}")
    manifest = DownloadManifest(
        repo_id=repo.source.repo_id,
        endpoint=repo.endpoint,
        requested_revision=wanted,
        commit=commit,
        files=files,
    )
    write_manifest(folder, manifest)
    return manifest, before


def _missing_count(name: str, annotations: Path, videos: Path) -> tuple[int, int]:
    """``(present, missing)`` distinct videos of benchmark ``name``."""
    from timelens_eval.benchmarks.base import load_benchmark
    from timelens_eval.datafiles.status import video_presence

    presence = video_presence(load_benchmark(name, annotations, video_root=videos))
    return presence.present, len(presence.missing)


def download_benchmark(
    name: str,
    root: Path,
    *,
    revision: str | None = None,
    note: Note = lambda text: None,
) -> DownloadReport:
    """Download benchmark ``name`` from the Hub into the data folder ``root`` (module doc)."""
    source = hub_source(name)
    if source is None:
        raise ConfigError(f"{name} is not on the Hugging Face Hub")
    spec = get_benchmark_spec(name)
    assert spec.default_annotations is not None and spec.default_videos is not None
    folder = local_path(source.folder, root)
    annotations = local_path(spec.default_annotations, root)
    videos = local_path(spec.default_videos, root)
    repo = _Repo(source)
    with _FolderLock(folder):
        manifest, before = _pinned(repo, folder, revision, note)
        commit = manifest.commit
        ann_path = source.repo_path(spec.default_annotations)
        if ann_path not in manifest.files:
            raise DownloadError(
                f"{source.repo_id}@{commit[:12]} has no {ann_path} (files: "
                f"{', '.join(manifest.files[:8])}{', ...' if len(manifest.files) > 8 else ''})"
            )
        shards = source.shards(manifest.files)
        if not shards:
            raise DownloadError(
                f"{source.repo_id}@{commit[:12]} has no video shards for {name} "
                "(expected video_shards/**/*.tar.gz)"
            )
        note(f"{name}: {source.repo_id}@{commit[:12]}, {ann_path} and {len(shards)} video shards")
        manifest.annotations[ann_path] = _place(repo.fetch(commit, ann_path), annotations)
        write_manifest(folder, manifest)
        present, missing = _missing_count(name, annotations, videos)
        todo = [s for s in shards if not (s in manifest.shards and manifest.shards[s].extracted)]
        extracted = 0
        for batch in (todo, [s for s in shards if s not in todo]):
            if not batch or not missing:
                continue  # every video is there: no shard is fetched
            for shard in batch:
                cached = repo.fetch(commit, shard)
                note(f"{name}: extracting {shard}")
                result = extract_archive(cached, videos, strip=videos.name)
                manifest.shards[shard] = ShardRecord(
                    extracted=True, files=result.files, target=str(videos.relative_to(folder))
                )
                write_manifest(folder, manifest)
                extracted += 1
            present, missing = _missing_count(name, annotations, videos)
    return DownloadReport(
        name=name,
        repo_id=source.repo_id,
        commit=commit,
        annotations=annotations,
        videos=videos,
        shards=len(shards),
        extracted=extracted,
        videos_present=present,
        videos_missing=missing,
        repinned_from=before,
    )
