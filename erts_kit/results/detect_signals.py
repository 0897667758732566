"""The detector benchmark's signals: computed per training sample at several points of one training run.

:func:`run_detector_study` trains one model on every sample (full data) and, at each checkpoint epoch,
computes for every training sample (observed labels, eval mode):

- ``erts_combined``: ERTS's ``(1 - p_true) * focus`` (Grad-CAM at the model's layer, ``topk_mean``);
- ``focus_<score>``: each focus score of :data:`erts_kit.explain.FOCUS_SCORES` on the same maps;
- ``loss`` (cross-entropy) and ``margin`` (label logit minus the largest other);
- ``aum``: area under the margin (Pleiss et al., NeurIPS 2020): the mean margin of the training
  forwards up to the checkpoint (recorded for free by :class:`MarginRecorder` through ``observe``);
- ``focus_ig``: ``topk_mean`` focus of a second attribution method, Captum ``IntegratedGradients`` on
  the input (zero baseline; attributions summed over leads, positive part);
- ``confident_learning`` (last checkpoint only): ``1 -`` cleanlab's label quality
  (``cleanlab.rank.get_label_quality_scores``) of out-of-fold predicted probabilities from
  ``folds`` models trained on the other folds for as many epochs; ``find_label_issues`` on the same
  probabilities gives the flagged set (precision and recall in ``result["cleanlab"]``).

Each signal is then oriented as its method reads it (:mod:`erts_kit.results.detectors`) and scored with
:func:`~erts_kit.results.detectors.detector_table`.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.model_selection import StratifiedKFold

from ..data.dataset import ECGData
from ..explain import FOCUS_SCORES, focus_score, gradcam_and_logits
from ..models import build_model
from ..models.inference import logits_no_grad
from ..selection.policies import CachedScores, FullPolicy, ScoreCache, margins
from ..training import TrainConfig, train
from ..training.checkpoint import load_checkpoint
from .detectors import detector_table

__all__ = ["MarginRecorder", "ORIENTATION", "model_signals", "oof_probabilities", "oriented", "run_detector_study"]

ORIENTATION = {"erts_combined": -1, "loss": 1, "margin": -1, "aum": -1, "focus_ig": -1, "confident_learning": 1,
               **{f"focus_{s}": -1 for s in FOCUS_SCORES}}
"""Sign that makes each signal "higher = more suspect" as its method reads it."""


class MarginRecorder(CachedScores, FullPolicy):
    """The full-data policy plus a :class:`~erts_kit.selection.policies.ScoreCache` of the training forwards.

    Example:
        >>> r = MarginRecorder()
        >>> r.observe(0, torch.tensor([1]), None, torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
        >>> r.cache.get("aum", [1]).tolist()
        [1.0]
    """

    def __init__(self, seed: int = 42) -> None:
        super().__init__(seed)
        self.cache = ScoreCache()


def _ig_maps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> torch.Tensor:
    ig = IntegratedGradients(model)
    attr = ig.attribute(x, baselines=torch.zeros_like(x), target=y, n_steps=steps, internal_batch_size=len(x) * steps)
    return attr.sum(dim=1).clamp_min(0).detach()          # (B, T): positive evidence over leads


def model_signals(model: torch.nn.Module, data: ECGData, indices: np.ndarray, batch_size: int = 128,
                  ig_steps: int = 16) -> pd.DataFrame:
    """Raw per-sample signals of ``model`` on ``data`` rows ``indices`` (observed labels), one row per index.

    Columns: ``p_true, loss, margin, focus_<score>..., erts_combined`` and ``focus_ig`` (0 steps: none).

    Example:
        >>> from erts_kit.data import load_dataset
        >>> d = load_dataset("synthetic", n_samples=40, n_leads=1, seed=0)
        >>> m = build_model("small_cnn", 1, d.n_classes)
        >>> s = model_signals(m, d, np.arange(5), ig_steps=2)
        >>> len(s), {"erts_combined", "aum"} & set(s.columns)
        (5, {'erts_combined'})
    """
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    cols: dict[str, list[np.ndarray]] = {}
    try:
        for start in range(0, len(indices), batch_size):
            b = np.asarray(indices[start:start + batch_size])
            x = torch.as_tensor(np.asarray(data.signals[b], dtype=np.float32), device=device)
            y = torch.as_tensor(data.labels[b], dtype=torch.long, device=device)
            maps, logits = gradcam_and_logits(model, x, y)
            logits = logits.float()
            p = torch.softmax(logits, 1).gather(1, y[:, None])[:, 0]
            got = {"p_true": p, "loss": F.cross_entropy(logits, y, reduction="none"), "margin": margins(logits, y)}
            for s in FOCUS_SCORES:
                got[f"focus_{s}"] = focus_score(maps, s)
            got["erts_combined"] = (1 - p) * got["focus_topk_mean"]
            if ig_steps > 0:
                got["focus_ig"] = focus_score(_ig_maps(model, x, y, ig_steps), "topk_mean")
            for k, v in got.items():
                cols.setdefault(k, []).append(v.detach().float().cpu().numpy())
    finally:
        model.train(was)
    return pd.DataFrame({k: np.concatenate(v) for k, v in cols.items()}, index=pd.Index(indices, name="index"))


def oof_probabilities(data: ECGData, model_name: str, epochs: int, folds: int = 3, seed: int = 0,
                      config: dict[str, Any] | None = None) -> np.ndarray:
    """(n_train, C) out-of-fold softmax probabilities of the training split (stratified by observed label).

    Each fold's model is trained (full data, ``epochs``) on the other folds, validated on ``val``.
    """
    train_idx = np.asarray(data.splits["train"])
    labels = np.asarray(data.labels)[train_idx]
    probs = np.zeros((len(train_idx), data.n_classes), dtype=np.float64)
    kf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (fit, held) in enumerate(kf.split(train_idx, labels)):
        fold = ECGData(data.signals, data.labels, data.class_names, data.fs, data.lead_names,
                       splits={"train": train_idx[fit], "val": np.asarray(data.splits["val"])}, name=data.name)
        torch.manual_seed(seed + 1000 * (k + 1))
        net = build_model(model_name, data.n_leads, data.n_classes)
        res = train(net, fold, FullPolicy(), TrainConfig(epochs=epochs, seed=seed + k, **(config or {})), progress=False)
        x = torch.as_tensor(np.asarray(data.signals[train_idx[held]], dtype=np.float32))
        res.model.eval()
        dev = next(res.model.parameters()).device
        probs[held] = torch.softmax(logits_no_grad(res.model, x.to(dev)).float(), 1).cpu().numpy()
    return probs


def oriented(raw: pd.DataFrame) -> pd.DataFrame:
    """The signals "higher = more suspect" (:data:`ORIENTATION`); unknown columns dropped."""
    return pd.DataFrame({c: ORIENTATION[c] * raw[c] for c in raw.columns if c in ORIENTATION}, index=raw.index)


def run_detector_study(data: ECGData, model_name: str = "small_cnn", checkpoints: Sequence[int] = (2, 5, 10),
                       seed: int = 0, folds: int = 3, ig_steps: int = 16, config: dict[str, Any] | None = None,
                       run_dir: str | Path | None = None) -> dict[str, Any]:
    """Train once on every sample; score every detector signal at each checkpoint epoch (1-based counts).

    Args:
        data: ECGData whose ``meta`` holds the ground truth (``corrupted``, ``flipped``, ``artifact_kind``,
            ``class_true`` or ``label_true``) for the training split.
        model_name: backbone; checkpoints: epochs trained before each scoring (increasing).
        seed: seeds the model, the data order and the folds; folds: cleanlab's out-of-fold models (0: none).
        ig_steps: Integrated Gradients steps (0: no ``focus_ig``).
        config: extra :class:`~erts_kit.training.TrainConfig` fields (batch_size, lr, device, ...).
        run_dir: where the training checkpoints go (default: a temporary folder).

    Returns:
        ``{"table": detector_table rows with an ``epoch`` column, "signals": {epoch: oriented DataFrame},
        "cleanlab": {"precision", "recall", "n_flagged"} or None}``.

    Raises:
        ValueError: no ground truth in ``meta``, or checkpoints not increasing positive integers.
    """
    if data.meta is None or "corrupted" not in data.meta.columns:
        raise ValueError("Expected data.meta with a 'corrupted' column: use the synthetic benchmark or "
                         "erts_kit.data.inject_corruption on a real set.")
    cps = [int(c) for c in checkpoints]
    if not cps or cps[0] < 1 or any(b <= a for a, b in zip(cps, cps[1:])):
        raise ValueError(f"Expected increasing positive checkpoint epochs, got {list(checkpoints)}.")
    train_idx = np.asarray(data.splits["train"])
    meta = data.meta.iloc[train_idx].reset_index(drop=True)
    if "class_true" not in meta.columns and "label_true" in meta.columns:
        meta["class_true"] = np.array(data.class_names, dtype=object)[meta["label_true"].to_numpy()]
    tmp = tempfile.TemporaryDirectory() if run_dir is None else None
    where = Path(tmp.name if tmp else run_dir)
    torch.manual_seed(seed)
    net = build_model(model_name, data.n_leads, data.n_classes)
    rec = MarginRecorder(seed)
    tables, signals, cl = [], {}, None
    try:
        for ep in cps:
            train(net, data, rec, TrainConfig(epochs=ep, seed=seed, **(config or {})), run_dir=where, progress=False,
                  resume=True)
            net.load_state_dict(load_checkpoint(where / "last.pt")["model"])   # the checkpoint, not the best
            raw = model_signals(net, data, train_idx, ig_steps=ig_steps)
            raw["aum"] = rec.cache.get("aum", torch.as_tensor(train_idx)).numpy()
            if ep == cps[-1] and folds > 1:
                probs = oof_probabilities(data, model_name, ep, folds, seed, config)
                labels = np.asarray(data.labels)[train_idx]
                raw["confident_learning"] = 1.0 - get_label_quality_scores(labels, probs)
                flagged = find_label_issues(labels, probs)
                truth = meta["corrupted"].to_numpy(bool)
                cl = {"precision": float(truth[flagged].mean()) if flagged.any() else float("nan"),
                      "recall": float(flagged[truth].mean()) if truth.any() else float("nan"),
                      "n_flagged": int(flagged.sum())}
            sig = oriented(raw)
            signals[ep] = sig
            t = detector_table(sig.reset_index(drop=True), meta)
            t.insert(0, "epoch", ep)
            tables.append(t)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {"table": pd.concat(tables, ignore_index=True), "signals": signals, "cleanlab": cl}
