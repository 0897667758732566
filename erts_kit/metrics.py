"""Classification metrics, computed once by scikit-learn and wrapped with the kit's conventions.

Conventions (the same everywhere in the kit):

* single-label: ``y_true`` (N,) class indices, ``y_prob`` (N, C) softmax probabilities (rows sum to
  1; logits are refused because one-vs-rest AUROC is not invariant to the softmax); the prediction
  is the argmax.
* multi-label (PTB-XL benchmark style): ``y_true`` (N, C) 0/1, ``y_prob`` (N, C) probabilities;
  a class is predicted when its probability >= ``threshold``.
* macro-F1 averages over the classes that occur in ``y_true`` or in the predictions (scikit-learn's
  default, and what the ERTS reference code reports); a class that never occurs and is never
  predicted gets F1 = NaN in ``per_class_f1`` instead of a silent 0.
* which classes count: the headline ``macro_f1`` averages the *counted* classes. For the AAMI beat
  classes (N, S, V, F, Q: MIT-BIH) that is N, S, V, F by default, as the inter-patient literature
  reports it (Q, a handful of beats, is left out; see :mod:`erts_kit.ec57`); ``macro_f1_all`` then
  averages every class and ``counted`` names those in ``macro_f1``. Every other set of class names
  counts every class (``macro_f1 == macro_f1_all``), as before.
* macro-AUROC is one-vs-rest per class, then averaged; it is NaN (with a warning) when some class has
  no positive or no negative sample, since its AUROC is undefined. ``per_class_auroc`` holds the rest.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from .ec57 import default_counted

__all__ = ["compute_metrics", "macro_f1", "metrics_table"]


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, possibly on GPU / requiring grad
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _format(y_true: Any, y_prob: Any, class_names: Sequence[str], multilabel: bool,
            threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs; return (y_true, y_prob, y_pred) as arrays."""
    yt, yp = _as_numpy(y_true), _as_numpy(y_prob).astype(float)
    n_classes = len(class_names)
    if yp.ndim != 2 or yp.shape[1] != n_classes:
        raise ValueError(f"Expected y_prob of shape (N, {n_classes}) for {n_classes} class names, got {yp.shape}: "
                         "pass one probability per class.")
    if yp.shape[0] == 0:
        raise ValueError("Expected at least one sample, got y_prob of shape (0, C): is the split empty?")
    if not np.all(np.isfinite(yp)):
        raise ValueError("Expected finite y_prob, got NaN or inf: check the model outputs.")
    if (yp.min() < 0 or yp.max() > 1):
        fix = "torch.sigmoid(logits)" if multilabel else "torch.softmax(logits, dim=1)"
        raise ValueError(f"Expected probabilities in [0, 1], got values in [{yp.min():.3g}, {yp.max():.3g}]: "
                         f"these look like logits, pass {fix}.")
    if not multilabel and not np.allclose(yp.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("Expected each row of y_prob to sum to 1 (softmax outputs) in single-label mode: "
                         "pass torch.softmax(logits, dim=1), or multilabel=True for independent sigmoid outputs. "
                         "(One-vs-rest AUROC differs between logits and probabilities.)")
    if multilabel:
        if yt.shape != yp.shape:
            raise ValueError(f"Expected multi-label y_true of shape {yp.shape} (0/1 per class), got {yt.shape}.")
        if not np.isin(yt, (0, 1)).all():
            raise ValueError("Expected multi-label y_true to hold only 0 and 1.")
        return yt.astype(int), yp, (yp >= threshold).astype(int)
    if yt.ndim != 1 or yt.shape[0] != yp.shape[0]:
        hint = " (one-hot? use y_true.argmax(1), or multilabel=True)" if yt.ndim == 2 else ""
        raise ValueError(f"Expected y_true of shape ({yp.shape[0]},) holding class indices, got {yt.shape}{hint}.")
    if (not np.issubdtype(yt.dtype, np.integer) or yt.min() < 0 or yt.max() >= n_classes):
        raise ValueError(f"Expected y_true to hold integer class indices in [0, {n_classes - 1}], "
                         f"got dtype {yt.dtype}, range [{yt.min()}, {yt.max()}].")
    return yt.astype(int), yp, yp.argmax(axis=1)


def _per_class_auroc(yt: np.ndarray, yp: np.ndarray, class_names: Sequence[str], multilabel: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    for c, name in enumerate(class_names):
        pos = yt[:, c] if multilabel else (yt == c).astype(int)
        out[name] = float(roc_auc_score(pos, yp[:, c])) if 0 < pos.sum() < len(pos) else float("nan")
    return out


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Macro-averaged F1 over the classes present in ``y_true`` or ``y_pred`` (hard labels).

    Args:
        y_true: (N,) class indices, or (N, C) 0/1 for multi-label.
        y_pred: same shape as ``y_true``.

    Example:
        >>> macro_f1([0, 0, 1, 1], [0, 1, 1, 1])  # F1 class 0 = 2/3, class 1 = 4/5
        0.7333333333333334
    """
    return float(f1_score(_as_numpy(y_true), _as_numpy(y_pred), average="macro", zero_division=np.nan))


def _counted(class_names: Sequence[str], counted: Sequence[str] | str | None) -> list[str]:
    names = [str(n) for n in class_names]
    if counted is None:
        return names
    if isinstance(counted, str):
        if counted != "auto":
            raise ValueError(f"Expected counted as 'auto', None or a list of class names, got {counted!r}.")
        return list(default_counted(names))
    out = [str(n) for n in counted]
    unknown = [n for n in out if n not in names]
    if unknown or not out:
        raise ValueError(f"Expected counted to name some of the classes {names}, got {out}: pass counted=None "
                         "to count every class, or 'auto' (N, S, V, F for the AAMI beat classes).")
    return out


def compute_metrics(y_true: Any, y_prob: Any, class_names: Sequence[str], multilabel: bool = False,
                    threshold: float = 0.5, *, auroc: bool = True,
                    counted: Sequence[str] | str | None = "auto") -> dict[str, Any]:
    """Macro-F1, per-class F1, balanced accuracy, macro-AUROC and the confusion matrix in one call.

    Args:
        y_true: (N,) class indices, or (N, C) 0/1 when ``multilabel``.
        y_prob: (N, C) probabilities: softmax rows summing to 1 (argmax = prediction), or per-class
            sigmoid outputs when ``multilabel`` (prediction: >= ``threshold``).
        class_names: C names, in column order of ``y_prob``.
        multilabel: multi-label mode (PTB-XL benchmark style).
        threshold: decision threshold for multi-label predictions.
        auroc: compute ``macro_auroc`` and ``per_class_auroc`` (most of the cost; the training loop's
            per-epoch validation skips them unless they pick the checkpoint).
        counted: classes averaged in ``macro_f1``: ``"auto"`` (N, S, V, F for the AAMI beat classes
            N, S, V, F, Q; every class otherwise), None (every class) or a list of names.

    Returns:
        dict with ``macro_f1`` (float, over the ``counted`` classes), ``macro_f1_all`` (every class),
        ``counted`` (list of names), ``per_class_f1`` ({name: F1}, NaN for a class never present
        nor predicted), ``balanced_accuracy`` (single-label: mean recall over the classes present;
        multi-label: mean over classes of (TPR + TNR) / 2), ``macro_auroc`` (NaN with a warning when
        a class is absent), ``per_class_auroc`` ({name: AUROC}), ``confusion_matrix``
        (single-label (C, C), rows = true class; multi-label (C, 2, 2) as sklearn's
        ``multilabel_confusion_matrix``).

    Raises:
        ValueError: shapes that do not match the class names, labels out of range, logits or other
            non-probabilities.

    Example:
        >>> m = compute_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["NORM", "MI"])
        >>> round(m["macro_f1"], 4), m["balanced_accuracy"], m["macro_auroc"]
        (0.6667, 0.75, 1.0)
        >>> m["confusion_matrix"].tolist()
        [[1, 0], [1, 1]]
        >>> "macro_auroc" in compute_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["NORM", "MI"], auroc=False)
        False
        >>> b = compute_metrics([0, 4], [[1., 0, 0, 0, 0], [1., 0, 0, 0, 0]], ["N", "S", "V", "F", "Q"], auroc=False)
        >>> b["counted"], round(b["macro_f1"], 4), round(b["macro_f1_all"], 4)  # Q (F1 0) left out of macro_f1
        (['N', 'S', 'V', 'F'], 0.6667, 0.3333)
    """
    yt, yp, pred = _format(y_true, y_prob, class_names, multilabel, threshold)
    counted_names = _counted(class_names, counted)
    labels = list(range(len(class_names)))
    f1 = f1_score(yt, pred, labels=labels, average=None, zero_division=np.nan)
    if multilabel:
        mcm = multilabel_confusion_matrix(yt, pred, labels=labels)  # (C, 2, 2): [[tn, fp], [fn, tp]]
        tn, fp, fn, tp = (mcm[:, i, j].astype(float) for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        with np.errstate(invalid="ignore", divide="ignore"):
            bal = np.nanmean((tp / (tp + fn) + tn / (tn + fp)) / 2)
        cm = mcm
    else:
        with warnings.catch_warnings():  # "y_pred contains classes not in y_true": expected on small sets
            warnings.simplefilter("ignore", UserWarning)
            bal = balanced_accuracy_score(yt, pred)
        cm = confusion_matrix(yt, pred, labels=labels)
    in_macro = np.array([str(n) in counted_names for n in class_names])
    out = {
        "macro_f1": _nanmean(f1[in_macro]),
        "macro_f1_all": _nanmean(f1),
        "counted": counted_names,
        "per_class_f1": {name: float(v) for name, v in zip(class_names, f1)},
        "balanced_accuracy": float(bal),
        "confusion_matrix": cm,
    }
    if not auroc:
        return out
    per_auc = _per_class_auroc(yt, yp, class_names, multilabel)
    missing = [n for n, v in per_auc.items() if np.isnan(v)]
    if missing:
        warnings.warn(f"macro_auroc is NaN: class(es) {', '.join(missing)} have no positive or no negative sample "
                      "in y_true, so their AUROC is undefined (see per_class_auroc for the others).",
                      RuntimeWarning, stacklevel=2)
        macro_auc = float("nan")
    else:
        macro_auc = float(np.mean(list(per_auc.values())))
    return {**out, "macro_auroc": macro_auc, "per_class_auroc": per_auc}


def metrics_table(y_true: Any, y_prob: Any, class_names: Sequence[str], multilabel: bool = False,
                  threshold: float = 0.5) -> pd.DataFrame:
    """Per-class precision, recall, F1, support and AUROC as a DataFrame indexed by class name.

    Undefined values (precision of a class never predicted, recall of a class never present, AUROC
    of a class with no positive or no negative) are NaN, not 0.

    Args:
        y_true, y_prob, class_names, multilabel, threshold: as in :func:`compute_metrics`.

    Example:
        >>> t = metrics_table([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["NORM", "MI"])
        >>> list(t.index), t["precision"].tolist(), t["recall"].tolist(), t["support"].tolist()
        (['NORM', 'MI'], [0.5, 1.0], [1.0, 0.5], [1, 2])
    """
    yt, yp, pred = _format(y_true, y_prob, class_names, multilabel, threshold)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(yt, pred, labels=labels, zero_division=np.nan)
    table = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int),
                          "auroc": list(_per_class_auroc(yt, yp, class_names, multilabel).values())},
                         index=pd.Index(list(class_names), name="class"))
    return table
