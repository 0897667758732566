"""Plots for explanations: Grad-CAM over an ECG, focus histograms, and the clean-vs-corrupted separation.

ECG drawing is delegated to :mod:`erts_kit.viz.ecg` (``plot_ecg`` / ``plot_ecg_grid`` with ``cam=``);
the tables come from :func:`erts_kit.explain.groundtruth.ground_truth_study`.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from .._validation import check_choice, check_int
from ..data.dataset import ECGData
from .ecg import plot_ecg, plot_ecg_grid

_BY = {"class": "class_name", "class_name": "class_name", "artifact_kind": "artifact_kind",
       "evidence_kind": "evidence_kind", "corrupted": "corrupted", "flipped": "flipped"}


def plot_cam(signal: np.ndarray, cam: np.ndarray | torch.Tensor, fs: float, lead: int = 0,
             mask: np.ndarray | None = None, ax: Axes | None = None, title: str | None = None) -> Axes:
    """One lead with its Grad-CAM map as a coloured overlay (delegates to ``viz.ecg.plot_ecg``).

    Args:
        signal: (T,) or (leads, T) ECG.
        cam: (W,) map at any resolution (resampled to T by ``plot_ecg``).
        fs: sampling rate in Hz.
        lead: lead drawn when ``signal`` has several.
        mask: optional (T,) bool evidence mask, shaded.
        ax: axes to draw on (new figure if None).
        title: axes title.

    Returns:
        The matplotlib Axes.

    Example:
        >>> ax = plot_cam(np.sin(np.linspace(0, 20, 500)), np.r_[np.zeros(40), np.ones(10)], fs=100)
        >>> round(float(ax.get_xlim()[1]), 1)
        5.0
    """
    return plot_ecg(signal, fs, lead=lead, cam=np.asarray(torch.as_tensor(cam).detach().cpu()),
                           mask=mask, ax=ax, title=title)


def plot_cam_grid(signal: np.ndarray, cam: np.ndarray | torch.Tensor, fs: float,
                  lead_names: Sequence[str] | None = None, mask: np.ndarray | None = None,
                  title: str | None = None) -> Figure:
    """All leads on ECG paper with the Grad-CAM overlay (delegates to ``viz.ecg.plot_ecg_grid``).

    Example:
        >>> fig = plot_cam_grid(np.zeros((3, 200)), np.ones(25), fs=100)
        >>> len(fig.axes) >= 3
        True
    """
    return plot_ecg_grid(signal, fs, lead_names=lead_names,
                                cam=np.asarray(torch.as_tensor(cam).detach().cpu()), mask=mask, title=title)


def plot_sample_cam(model: nn.Module, data: ECGData, index: int, target: int | None = None,
                    grid: bool = False, lead: int = 0, engine: str = "fast", per_lead: bool = False
                    ) -> Axes | Figure:
    """Compute and draw the Grad-CAM of one dataset sample (for its given label by default).

    Args:
        model: an ECGModel (on CPU or any device).
        data: the ECG set (its ``evidence_mask``, if any, is shaded).
        index: dataset index of the sample.
        target: class to explain (default: the sample's label).
        grid: draw every lead (``plot_cam_grid``) instead of one (``plot_cam``).
        lead: the lead drawn when ``grid`` is False.
        engine: Grad-CAM engine, "fast" or "captum".
        per_lead: 2-D backbones only: draw each lead's own map (H must equal the number of leads)
            instead of the lead-averaged one.

    Returns:
        Axes (single lead) or Figure (grid).

    Example:
        >>> from erts_kit.data.synthetic import make_synthetic
        >>> from erts_kit.models import build_model
        >>> data = make_synthetic(n_samples=4, n_leads=2, duration_s=3.0, seed=0)
        >>> ax = plot_sample_cam(build_model("small_cnn", n_leads=2, n_classes=data.n_classes), data, 0)
        >>> ax.get_title(loc="left").startswith("#0")
        True
    """
    from ..explain.gradcam import gradcam, unwrap_model

    check_int("index", index, minimum=0)
    if index >= data.n_samples:
        raise ValueError(f"Expected index in [0, {data.n_samples - 1}], got {index}.")
    y = int(data.labels[index]) if target is None else int(target)
    dev = next(unwrap_model(model).parameters()).device
    x = torch.as_tensor(np.asarray(data.signals[index : index + 1], dtype=np.float32), device=dev)
    aux = None if data.aux is None else torch.as_tensor(data.aux[index : index + 1], device=dev)
    cam = gradcam(model, x, y, engine=engine, per_lead=per_lead, aux=aux)[0].cpu().numpy()  # (W,) or (H, W)
    mask = None if data.evidence_mask is None else np.asarray(data.evidence_mask[index])
    title = f"#{index} — Grad-CAM for {data.class_names[y]}"
    if grid:
        return plot_cam_grid(data.signals[index], cam, data.fs, lead_names=data.lead_names, mask=mask, title=title)
    return plot_cam(data.signals[index], cam, data.fs, lead=lead, mask=mask, title=title)


def plot_focus_hist(table: pd.DataFrame, by: str = "class", score: str = "topk_mean",
                    checkpoint: str | None = None, bins: int = 20, ax: Axes | None = None) -> Axes:
    """Overlaid histograms of one focus score, one per group (class, artefact kind, ...).

    Args:
        table: the ``"samples"`` table of ``ground_truth_study``.
        by: "class", "artifact_kind", "evidence_kind", "corrupted" or "flipped".
        score: the score column to histogram.
        checkpoint: which checkpoint's rows (default: the last one in the table).
        bins: number of bins over [0, 1].
        ax: axes to draw on.

    Returns:
        The Axes (one step histogram per group, density-normalised so groups of different size compare).

    Example:
        >>> t = pd.DataFrame({"checkpoint": "e1", "class_name": ["A", "A", "B"], "topk_mean": [0.1, 0.2, 0.9]})
        >>> plot_focus_hist(t, by="class").get_legend().get_texts()[0].get_text()
        'A (n=2)'
    """
    col = _BY[check_choice("by", by, list(_BY))]
    for c in (col, score, "checkpoint"):
        if c not in table.columns:
            raise ValueError(f"Expected column {c!r} in the table, got {list(table.columns)}: pass the 'samples' "
                             f"table of ground_truth_study.")
    ckpts = list(pd.unique(table["checkpoint"]))
    ckpt = ckpts[-1] if checkpoint is None else check_choice("checkpoint", checkpoint, ckpts)
    t = table[table["checkpoint"] == ckpt]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.linspace(0.0, 1.0, check_int("bins", bins, minimum=1) + 1)
    for name, g in t.groupby(col, sort=True, observed=True):
        ax.hist(g[score].to_numpy(dtype=float), bins=edges, histtype="step", density=True, linewidth=1.5,
                label=f"{name} (n={len(g)})")
    ax.set_xlabel(score)
    ax.set_ylabel("density")
    ax.set_title(f"{score} by {by} — {ckpt}")
    ax.legend(fontsize="small")
    return ax


def plot_separation(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bar chart of AUROC (clean scoring above corrupted) per score, contrast and checkpoint.

    Args:
        table: the ``"separation"`` table of ``ground_truth_study``.
        ax: axes to draw on.

    Returns:
        The Axes; a dashed line marks 0.5 (no separation).

    Example:
        >>> t = pd.DataFrame({"checkpoint": "e1", "score": ["topk_mean"] * 2, "contrast": ["corrupted", "flip_only"],
        ...                   "auroc": [0.6, 0.4]})
        >>> len(plot_separation(t).patches)
        2
    """
    for c in ("checkpoint", "score", "contrast", "auroc"):
        if c not in table.columns:
            raise ValueError(f"Expected column {c!r}, got {list(table.columns)}: pass the 'separation' table "
                             f"of ground_truth_study.")
    wide = table.pivot_table(index="score", columns=["checkpoint", "contrast"], values="auroc",
                             sort=False, observed=True, dropna=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 1.2 * len(wide.index) * max(1, wide.shape[1]) / 3, 3.5))
    wide.plot.bar(ax=ax, rot=0, width=0.8)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("AUROC (clean > corrupted)")
    ax.set_xlabel("focus score (p_true: the model's confidence, for reference)")
    ax.legend(ax.containers, [" / ".join(map(str, c)) for c in wide.columns], fontsize="small",
              title="checkpoint / contrast", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax
