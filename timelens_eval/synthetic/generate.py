"""Generate a split (videos and annotation files) into a folder, or into the cache.

The cache lives under ``$TIMELENS_EVAL_CACHE/synthetic/<hash>/`` (default
``~/.cache/timelens-eval/synthetic/<hash>/``), where ``<hash>`` is the first 16 hex
digits of the plan hash: a SHA-256 over the planned content and the render settings.
A split is generated into a temporary folder and renamed into place when complete,
so concurrent or interrupted runs never leave a half-written split behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from timelens_eval.benchmarks.base import file_sha256
from timelens_eval.errors import ConfigError, InputError
from timelens_eval.synthetic import render
from timelens_eval.synthetic.annotations import (
    VARIANTS,
    VIDEO_DIR,
    annotation_filename,
    write_annotations,
)
from timelens_eval.synthetic.plan import GENERATOR_VERSION, SplitConfig, SplitPlan, plan_split
from timelens_eval.synthetic.scenes import Scene

__all__ = ["GeneratedSplit", "render_settings", "generate_split", "cache_root", "ensure_split"]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(videos_done, videos_total)`` after each video."""

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class GeneratedSplit:
    """Where a generated split lives and what it holds."""

    root: Path
    plan: SplitPlan | None
    """The planned split; None when it was found in the cache without planning."""
    plan_hash: str
    annotations: dict[str, Path]
    """Annotation file per variant."""
    seconds: float
    """Wall time spent generating (0 when taken from the cache)."""
    cached: bool = False


def render_settings() -> dict[str, object]:
    """The settings besides the plan that decide the pixels (part of the plan hash)."""
    return {"encoder": dict(render.ENCODER_OPTIONS), "background": list(render.BACKGROUND)}


def _write_one(args: tuple[Scene, str]) -> str:
    scene, path = args
    render.write_video(scene, path)
    return path


def generate_split(
    config: SplitConfig,
    out_dir: str | Path,
    *,
    variants: Sequence[str] = VARIANTS,
    progress: ProgressCallback | None = None,
    workers: int = 1,
) -> GeneratedSplit:
    """Plan ``config``, render its videos into ``out_dir/videos`` and write annotations.

    ``workers > 1`` renders videos in that many processes; the bytes do not change.
    """
    for variant in variants:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if workers < 1:
        raise ConfigError("workers must be at least 1")
    started = time.perf_counter()
    plan = plan_split(config)
    plan_hash = plan.plan_hash(render_settings())
    out = Path(out_dir)
    video_dir = out / VIDEO_DIR
    try:
        video_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=out) from None
    jobs = [(scene, str(video_dir / f"{scene.video_id}.mp4")) for scene in plan.scenes]
    total = len(jobs)
    if progress:
        progress(0, total)
    if workers == 1 or total < 2:
        for done, job in enumerate(jobs, 1):
            _write_one(job)
            if progress:
                progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, _ in enumerate(pool.map(_write_one, jobs, chunksize=4), 1):
                if progress:
                    progress(done, total)
    annotations = {v: write_annotations(plan, out, v, plan_hash) for v in variants}
    manifest = {
        "plan_hash": plan_hash,
        "config": config.to_dict(),
        "annotations": {v: p.name for v, p in annotations.items()},
        "videos": {Path(p).name: file_sha256(p) for _, p in jobs},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return GeneratedSplit(
        root=out,
        plan=plan,
        plan_hash=plan_hash,
        annotations=annotations,
        seconds=time.perf_counter() - started,
    )


def cache_root() -> Path:
    """``$TIMELENS_EVAL_CACHE/synthetic`` or ``~/.cache/timelens-eval/synthetic``."""
    base = os.environ.get("TIMELENS_EVAL_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "timelens-eval"
    return root / "synthetic"


def _complete(folder: Path) -> bool:
    """True when ``folder`` holds a whole cached split: both variants and every video."""
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = [folder / annotation_filename(v) for v in VARIANTS]
    files += [folder / VIDEO_DIR / name for name in listed.get("videos", {})]
    return all(path.is_file() for path in files)


def _config_key(config: SplitConfig) -> str:
    payload = {
        "generator_version": GENERATOR_VERSION,
        "config": config.to_dict(),
        "render": render_settings(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _remember(root: Path, key: str, plan_hash: str) -> None:
    """Record which folder a config produced, so the next load skips planning."""
    index = root / "index"
    index.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=index, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(plan_hash + "\n")
    os.replace(tmp, index / key)


def ensure_split(
    config: SplitConfig,
    *,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    workers: int = 1,
) -> GeneratedSplit:
    """The split for ``config`` from the cache, generating it on first use.

    The folder is named by the plan hash. A small index (``index/<config key>``) maps
    each config to its plan hash, so a cached split loads without planning it again;
    then ``GeneratedSplit.plan`` is None.
    """
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    key = _config_key(config)
    try:
        known = (root / "index" / key).read_text(encoding="utf-8").strip()
    except OSError:
        known = ""
    if known and _complete(root / known[:16]):
        folder = root / known[:16]
        annotations = {v: folder / annotation_filename(v) for v in VARIANTS}
        return GeneratedSplit(folder, None, known, annotations, 0.0, cached=True)
    plan = plan_split(config)
    plan_hash = plan.plan_hash(render_settings())
    folder = root / plan_hash[:16]
    if _complete(folder):
        _remember(root, key, plan_hash)
        annotations = {v: folder / annotation_filename(v) for v in VARIANTS}
        return GeneratedSplit(folder, plan, plan_hash, annotations, 0.0, cached=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{plan_hash[:16]}-", dir=root))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the synthetic-benchmark cache at {root} ({exc.strerror}); "
            "set TIMELENS_EVAL_CACHE to a writable folder"
        ) from None
    try:
        made = generate_split(config, staging, progress=progress, workers=workers)
        if folder.exists() and not _complete(folder):
            shutil.rmtree(folder)  # an incomplete copy in our own cache
        try:
            staging.rename(folder)
        except OSError:
            if not _complete(folder):  # lost a race to a process that left junk
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _remember(root, key, plan_hash)
    annotations = {v: folder / p.name for v, p in made.annotations.items()}
    return GeneratedSplit(folder, made.plan, plan_hash, annotations, made.seconds)
