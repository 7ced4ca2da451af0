"""The download manifest: which Hub commit a local copy comes from, and what is done.

One small JSON file per repository folder (``data/TimeLens-Bench/<MANIFEST_NAME>``).
It pins the revision: later downloads into the same folder use the recorded commit
unless another revision is asked for, so the local copy never drifts silently.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timelens_eval.errors import InputError

__all__ = ["MANIFEST_NAME", "ShardRecord", "DownloadManifest", "read_manifest", "write_manifest"]

MANIFEST_NAME = "timelens-eval-manifest.json"
MANIFEST_VERSION = 1


class ShardRecord(BaseModel):
    """One video shard of the repository."""

    model_config = ConfigDict(extra="forbid")

    extracted: bool = False
    """Every member was extracted into the videos folder."""
    files: int = 0
    """Regular files the shard holds."""
    target: str | None = None
    """The folder it was extracted into, relative to the repository folder."""


class DownloadManifest(BaseModel):
    """A local copy of one Hub dataset repository (or the part of it fetched so far)."""

    model_config = ConfigDict(extra="forbid")

    manifest_version: int = MANIFEST_VERSION
    repo_id: str
    repo_type: str = "dataset"
    endpoint: str = Field(description="The Hub the files came from (HF_ENDPOINT).")
    requested_revision: str = Field(description="What was asked for: a branch, tag or commit.")
    commit: str = Field(description="The commit every file was downloaded at.")
    files: list[str] = Field(default_factory=list, description="The repository's files there.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotation file (repository path) -> its SHA-256."
    )
    shards: dict[str, ShardRecord] = Field(default_factory=dict)
    updated: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def read_manifest(folder: Path) -> DownloadManifest | None:
    """The manifest in ``folder``, None when there is none; a broken one is an error."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return DownloadManifest.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise InputError(
            f"unreadable download manifest ({reason}); delete it to download again", path=path
        ) from None


def write_manifest(folder: Path, manifest: DownloadManifest) -> Path:
    """Write ``manifest`` into ``folder`` atomically (temp file + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest.updated = datetime.now(timezone.utc)
    path = folder / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(manifest.model_dump_json(indent=1) + "\n")
    os.replace(tmp, path)
    return path
