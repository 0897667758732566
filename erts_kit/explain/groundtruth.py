"""Ground-truth study: does Grad-CAM point at the evidence, and does focus separate corrupted samples?

On the synthetic benchmark every sample records where its class evidence lies in time
(``ECGData.evidence_mask``) and whether it was corrupted (``meta`` columns ``flipped``, ``artifact``,
``artifact_kind``, ``corrupted``, ``evidence_kind``). :func:`ground_truth_study` explains every sample
for its *given* label (the possibly flipped label that training sees, as ERTS does) with each
checkpoint and returns tidy pandas tables:

* ``"samples"``: one row per (checkpoint, sample): labels, corruption flags, each focus score,
  ``mass_in_evidence`` (share of the positive, upsampled map inside the evidence mask) and p_true.
  The synthetic mask marks the evidence of the TRUE class, while the map explains the given label:
  for a flipped sample, mass_in_evidence asks whether the map still points at the real evidence.
  NORM samples have an empty mask, so their mass_in_evidence is NaN (undefined, skipped by means).
* ``"by_class"``: per checkpoint and class, over *clean* samples: mean mass-in-evidence and focus,
  local vs diffuse evidence side by side (are diffuse classes scored as unfocused?).
* ``"separation"``: per checkpoint and score, AUROC of clean vs corrupted (all corruptions,
  artefact-only, flip-only), oriented as ERTS assumes: the probability that a clean sample scores
  *higher* than a corrupted one (0.5 = no separation; below 0.5 = focus prefers corrupted samples).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn

from .._validation import check_choice, check_int
from ..data.dataset import ECGData
from .focus import FOCUS_SCORES, focus_score
from .gradcam import gradcam_and_logits, unwrap_model

DEFAULT_SCORES = ("topk_mean", "top_mass_share", "one_minus_entropy")
CONTRASTS = ("corrupted", "artifact_only", "flip_only")


def evidence_overlap(maps_upsampled: torch.Tensor | np.ndarray, evidence_mask: torch.Tensor | np.ndarray
                     ) -> np.ndarray:
    """Share of each map's positive mass that lies inside the evidence mask.

    Args:
        maps_upsampled: (B, T) maps at input resolution (``gradcam(..., upsample=True)``), signed or not;
            negative values are ReLU'd away.
        evidence_mask: (B, T) bool, True where the class evidence lies.

    Returns:
        (B,) float64 in [0, 1]. A map with no positive mass gives 0.0 (no mass on the evidence); a
        sample with an empty mask gives NaN (overlap undefined; pandas means skip it).

    Example:
        >>> m = np.array([[0, 0, 3, 1, 0], [1, 1, 1, 1, 0], [-1, -1, -1, -1, -1]], dtype=float)
        >>> mask = np.array([[0, 0, 1, 1, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], dtype=bool)
        >>> evidence_overlap(m, mask).tolist()
        [1.0, 0.25, 0.0]
    """
    m = np.maximum(np.asarray(torch.as_tensor(maps_upsampled).detach().float().cpu()), 0.0).astype(np.float64)
    mask = np.asarray(torch.as_tensor(evidence_mask).cpu())
    if m.ndim != 2:
        raise ValueError(f"Expected maps of shape (B, T), got {m.shape}: lead-reduce 2-D maps first.")
    if mask.shape != m.shape:
        raise ValueError(f"Expected evidence_mask of the maps' shape {m.shape}, got {mask.shape}: compute maps "
                         f"with gradcam(..., upsample=True) so they have the input length T.")
    if mask.dtype != bool:
        raise TypeError(f"Expected a bool evidence_mask, got dtype {mask.dtype}: use mask.astype(bool).")
    mass = m.sum(1)
    inside = (m * mask).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(mass > 0, inside / np.where(mass > 0, mass, 1.0), 0.0)
    return np.where(mask.any(1), share, np.nan)


def _meta_column(meta: pd.DataFrame, name: str, idx: np.ndarray, default) -> np.ndarray:
    if name in meta.columns:
        return meta[name].to_numpy()[idx]
    return np.full(len(idx), default, dtype=object if isinstance(default, str) else type(default))


def _explain_checkpoint(model: nn.Module, data: ECGData, idx: np.ndarray, scores: Sequence[str],
                        batch_size: int, device: torch.device) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {k: [] for k in (*scores, "mass_in_evidence", "p_true", "pred")}
    for start in range(0, len(idx), batch_size):
        b = idx[start:start + batch_size]
        x = torch.as_tensor(np.asarray(data.signals[b], dtype=np.float32), device=device)
        y = torch.as_tensor(data.labels[b], dtype=torch.long, device=device)
        maps, logits = gradcam_and_logits(model, x, y)  # (B, W) signed, layer resolution
        for s in scores:
            out[s].append(focus_score(maps, s).cpu().numpy())
        prob = torch.softmax(logits.float(), dim=1)
        out["p_true"].append(prob.gather(1, y[:, None])[:, 0].cpu().numpy())
        out["pred"].append(prob.argmax(1).cpu().numpy())
        if data.evidence_mask is not None:
            up = F.interpolate(F.relu(maps)[:, None], size=x.shape[-1], mode="linear", align_corners=False)[:, 0]
            out["mass_in_evidence"].append(evidence_overlap(up, np.asarray(data.evidence_mask[b], dtype=bool)))
        else:
            out["mass_in_evidence"].append(np.full(len(b), np.nan))
    return {k: np.concatenate(v) for k, v in out.items()}


def _auroc(clean: np.ndarray, other: np.ndarray) -> float:
    if len(clean) == 0 or len(other) == 0:
        return float("nan")
    y = np.r_[np.ones(len(clean)), np.zeros(len(other))]
    return float(roc_auc_score(y, np.r_[clean, other]))


def separation_table(samples: pd.DataFrame, scores: Sequence[str] = DEFAULT_SCORES,
                     baselines: Sequence[str] = ("p_true",)) -> pd.DataFrame:
    """AUROC of each score for clean vs corrupted samples, per checkpoint (clean scoring higher = 1.0).

    Contrasts: ``corrupted`` (any corruption vs clean), ``artifact_only`` (artefact, label not
    flipped) and ``flip_only`` (flipped label, no artefact), each against the clean samples.

    Args:
        samples: the per-sample table of :func:`ground_truth_study` (columns ``checkpoint``,
            ``corrupted``, ``artifact``, ``flipped`` and the score columns).
        scores: score columns to evaluate.
        baselines: extra columns evaluated the same way (p_true: the model's own confidence).

    Returns:
        Long table: checkpoint, score, contrast, n_clean, n_corrupted, auroc (NaN when a group is empty).

    Example:
        >>> t = pd.DataFrame({"checkpoint": "e1", "corrupted": [False, False, True, True],
        ...                   "artifact": [False, False, True, False], "flipped": [False, False, False, True],
        ...                   "topk_mean": [0.9, 0.8, 0.1, 0.85]})
        >>> separation_table(t, ["topk_mean"], baselines=())[["contrast", "auroc"]].values.tolist()
        [['corrupted', 0.75], ['artifact_only', 1.0], ['flip_only', 0.5]]
    """
    for col in ("checkpoint", "corrupted", "artifact", "flipped", *scores, *baselines):
        if col not in samples.columns:
            raise ValueError(f"Expected column {col!r} in the samples table, got {list(samples.columns)}: "
                             f"pass the 'samples' table of ground_truth_study.")
    rows = []
    for ckpt, g in samples.groupby("checkpoint", sort=False):
        corrupted = g["corrupted"].astype(bool).to_numpy()
        artifact = g["artifact"].astype(bool).to_numpy()
        flipped = g["flipped"].astype(bool).to_numpy()
        clean = ~corrupted
        groups = {"corrupted": corrupted, "artifact_only": artifact & ~flipped, "flip_only": flipped & ~artifact}
        for s in (*scores, *baselines):
            v = g[s].to_numpy(dtype=float)
            for contrast in CONTRASTS:
                bad = groups[contrast]
                rows.append({"checkpoint": ckpt, "score": s, "contrast": contrast, "n_clean": int(clean.sum()),
                             "n_corrupted": int(bad.sum()), "auroc": _auroc(v[clean], v[bad])})
    return pd.DataFrame(rows)


def ground_truth_study(models: Mapping[str, nn.Module], data: ECGData, indices: np.ndarray | None = None,
                       scores: Sequence[str] = DEFAULT_SCORES, batch_size: int = 64,
                       device: str | torch.device | None = None) -> dict[str, pd.DataFrame]:
    """Explain samples with each checkpoint and tabulate focus, mass on the evidence and separation.

    Args:
        models: checkpoint name -> ECGModel, e.g. ``{"epoch 2": m2, "epoch 10": m10}``.
        data: single-label ECGData, ideally synthetic (``evidence_mask`` and corruption meta). Missing
            meta columns default to clean (``False`` / ``"none"``); without a mask, mass_in_evidence is NaN.
        indices: dataset indices to study (default: all samples).
        scores: focus score names (see :data:`~erts_kit.explain.FOCUS_SCORES`).
        batch_size: samples per Grad-CAM batch.
        device: where to run (default: each model's parameter device).

    Returns:
        ``{"samples", "by_class", "separation"}`` DataFrames (see the module docstring). Maps are
        computed with the fast engine, in eval mode, for the given label, at layer resolution; focus
        is scored there, and mass-in-evidence on the ReLU'd map linearly upsampled to T.

    Example:
        >>> from erts_kit.models import build_model
        >>> _ = torch.manual_seed(0)
        >>> d = ECGData(np.random.default_rng(0).normal(size=(6, 1, 64)).astype("float32"), [0, 1] * 3, ["a", "b"], 100)
        >>> res = ground_truth_study({"init": build_model("small_cnn", n_leads=1, n_classes=2)}, d)
        >>> sorted(res), len(res["samples"])
        (['by_class', 'samples', 'separation'], 6)
    """
    if not isinstance(data, ECGData):
        raise TypeError(f"Expected an ECGData, got {type(data).__name__}.")
    if data.multilabel:
        raise ValueError("ground_truth_study needs single-label data (labels (N,)), got multi-label (N, C): "
                         "explain one class at a time with gradcam(model, x, target=...).")
    if not isinstance(models, Mapping) or not models:
        raise TypeError("Expected models as a non-empty dict {checkpoint name: ECGModel}, "
                        f"got {type(models).__name__}: e.g. {{'epoch 10': model}}.")
    scores = list(scores)
    for s in scores:
        check_choice("focus score", s, list(FOCUS_SCORES))
    check_int("batch_size", batch_size, minimum=1)
    idx = np.arange(data.n_samples) if indices is None else np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= data.n_samples):
        raise ValueError(f"Expected indices in [0, {data.n_samples - 1}], got range [{idx.min()}, {idx.max()}].")

    meta = data.meta
    labels = np.asarray(data.labels)[idx]
    base = pd.DataFrame({
        "index": idx,
        "label": labels,
        "class_name": np.asarray(data.class_names, dtype=object)[labels],
        "label_true": _meta_column(meta, "label_true", idx, -1) if "label_true" in meta else labels,
        "evidence_kind": _meta_column(meta, "evidence_kind", idx, "unknown"),
        "corrupted": _meta_column(meta, "corrupted", idx, False).astype(bool),
        "artifact": _meta_column(meta, "artifact", idx, False).astype(bool),
        "artifact_kind": _meta_column(meta, "artifact_kind", idx, "none"),
        "flipped": _meta_column(meta, "flipped", idx, False).astype(bool),
    })
    base["artifact_kind"] = base["artifact_kind"].fillna("none").replace("", "none")
    tables = []
    for name, model in models.items():
        m = unwrap_model(model)
        dev = torch.device(device) if device is not None else next(m.parameters()).device
        res = _explain_checkpoint(m, data, idx, scores, batch_size, dev)
        t = base.copy()
        t.insert(0, "checkpoint", name)
        for k, v in res.items():
            t[k] = v
        tables.append(t)
    samples = pd.concat(tables, ignore_index=True)
    samples["checkpoint"] = pd.Categorical(samples["checkpoint"], categories=list(models), ordered=True)

    clean = samples[~samples["corrupted"]]
    by_class = (clean.groupby(["checkpoint", "evidence_kind", "class_name"], observed=True, sort=True)
                .agg(n=("index", "size"), mass_in_evidence=("mass_in_evidence", "mean"),
                     p_true=("p_true", "mean"), **{s: (s, "mean") for s in scores})
                .reset_index())
    return {"samples": samples, "by_class": by_class, "separation": separation_table(samples, scores)}
