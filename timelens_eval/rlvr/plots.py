"""Plots of RLVR runs: training curves and the difficulty selection (PNG, matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from timelens_eval.errors import MissingDependencyError
from timelens_eval.rlvr.early_stopping import FORMAT_KEY

__all__ = ["plot_training_curves", "plot_selection"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("RLVR plots", "rlvr", "matplotlib") from None
    return plt


def plot_training_curves(
    logs: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    stop_step: int | None = None,
    restored_step: int | None = None,
    title: str = "GRPO",
) -> Path:
    """Reward mean and within-group reward std per logged step, with the stopping point;
    a third panel shows the share of answers in the answer format where it was logged
    (the ``answer_format`` monitor), and ``restored_step`` marks the weights put back
    after a format collapse."""
    plt = _pyplot()
    rows = [r for r in logs if "reward" in r and "step" in r]
    steps = [r["step"] for r in rows]
    panels = [
        ("reward", "reward mean"),
        ("reward_std_within_group", "within-group reward std"),
    ]
    if any(FORMAT_KEY in r for r in rows):
        panels.append((FORMAT_KEY, "answers in the answer format"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    for ax, (key, label) in zip(axes, panels, strict=True):
        values = [r.get(key) for r in rows]
        ax.plot(steps, [np.nan if v is None else v for v in values], marker=".", lw=1)
        ax.set_xlabel("step")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        if stop_step is not None:
            ax.axvline(stop_step, color="tab:red", ls="--", lw=1, label=f"early stop ({stop_step})")
        if restored_step is not None:
            ax.axvline(
                restored_step,
                color="tab:green",
                ls=":",
                lw=1.5,
                label=f"weights restored ({restored_step})",
            )
        if stop_step is not None or restored_step is not None:
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_selection(
    pool_ious: Sequence[float],
    selected_ious: Sequence[float],
    target: Sequence[float],
    path: str | Path,
) -> Path:
    """IoU histograms of the pool and the selection, beside the sampler's target."""
    plt = _pyplot()
    bins = len(target)
    edges = np.linspace(0, 1, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2

    def share(values: Sequence[float]) -> np.ndarray:
        counts, _ = np.histogram(np.clip(values, 0, 1), bins=edges)
        return counts / max(counts.sum(), 1)

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    width = 1.0 / bins
    ax.bar(centres, share(pool_ious), width=width, alpha=0.35, label=f"pool (n={len(pool_ious)})")
    ax.bar(
        centres,
        share(selected_ious),
        width=width * 0.6,
        alpha=0.8,
        label=f"selected (n={len(selected_ious)})",
    )
    ax.plot(centres, target, color="black", marker="o", ms=3, lw=1, label="target")
    ax.set_xlabel("IoU of the model before RL (difficulty estimate)")
    ax.set_ylabel("share of samples")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
