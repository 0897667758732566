"""Evaluation of a model on one split, and the checks run before any training starts."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data.dataset import ECGData, ECGDataset
from ..metrics import compute_metrics
from ..models.inference import logits_no_grad
from .losses import ClassificationLoss

__all__ = ["evaluate", "check_compatible"]


@torch.no_grad()
def evaluate(model: nn.Module, data: ECGData, split: str = "val", batch_size: int = 256, *,
             loss: ClassificationLoss | None = None, device: torch.device | str | None = None,
             amp: bool = False, auroc: bool = True) -> dict[str, Any]:
    """Loss, probabilities and metrics of ``model`` on one split (model mode restored afterwards).

    Returns:
        dict with ``split``, ``loss`` (``loss`` or plain CE/BCE), ``probabilities`` (n, C) float32,
        ``labels``, ``indices`` (dataset indices) and ``metrics`` (``erts_kit.metrics.compute_metrics``;
        without the AUROCs when ``auroc=False``).

    Example:
        >>> d = ECGData(np.zeros((4, 1, 16), np.float32), [0, 1, 0, 1], ["a", "b"], 100, splits={"val": [0, 1, 2, 3]})
        >>> m = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)); _ = nn.init.zeros_(m[1].bias)
        >>> out = evaluate(m, d, "val"); out["probabilities"].shape, round(out["loss"], 4)
        ((4, 2), 0.6931)
    """
    idx = data.split(split)
    device = next(model.parameters()).device if device is None else torch.device(device)
    loss = loss if loss is not None else ClassificationLoss("bce" if data.multilabel else "ce")
    was_training = model.training
    model.eval()
    # own generator: evaluating never moves the global RNG, so eval_every cannot change training
    loader = DataLoader(ECGDataset(data, idx), batch_size=batch_size, shuffle=False, generator=torch.Generator())
    probs, total, weight = [], 0.0, 0.0
    try:
        for x, y, _, *extra in loader:
            x, y = x.to(device), y.to(device)
            aux = extra[0].to(device) if extra else None
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp and device.type == "cuda"):
                logits = logits_no_grad(model, x, aux=aux)  # micro-batched on the CPU: same logits, less time
            logits = logits.float()
            losses, w = loss.per_sample(logits, y)
            total += float(losses.sum())
            weight += float(w.sum())
            probs.append((torch.sigmoid(logits) if data.multilabel else torch.softmax(logits, 1)).cpu())
    finally:
        model.train(was_training)
    prob = torch.cat(probs).numpy().astype(np.float32) if probs else np.zeros((0, data.n_classes), np.float32)
    labels = np.asarray(data.labels[idx])
    return {"split": split, "loss": total / max(weight, 1e-12), "probabilities": prob, "labels": labels,
            "indices": idx, "metrics": compute_metrics(labels, prob, list(data.class_names), data.multilabel, auroc=auroc)}


def _check_aux_width(model: nn.Module, data: ECGData) -> None:
    """Raise when the data's aux features and the model's ``n_aux`` disagree (either side missing, or widths)."""
    n_aux = getattr(model, "n_aux", 0)
    if n_aux == data.n_aux:
        return
    if data.n_aux == 0:
        raise ValueError(f"Aux mismatch: the model takes {n_aux} aux features per sample, the data has none: "
                         "load data with aux (e.g. load_mitbih(..., context='rr')) or rebuild the model with n_aux=0.")
    raise ValueError(f"Aux mismatch: the data has {data.n_aux} aux features per sample ({data.aux_names}), the "
                     f"model takes {n_aux}: rebuild it with build_model(..., n_aux={data.n_aux}).")


def check_compatible(model: nn.Module, data: ECGData, loss: str, device: torch.device) -> None:
    """Raise before any training when data, model and loss do not fit together (splits, leads, classes, aux, T).

    Example:
        >>> d = ECGData(np.zeros((4, 1, 16), np.float32), [0, 1, 0, 1], ["a", "b"], 100,
        ...             splits={"train": [0, 1], "val": [2, 3]})
        >>> m = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))  # 3 logits, 2 classes
        >>> check_compatible(m, d, "ce", torch.device("cpu"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Class-count mismatch: the model returned logits of shape (1, 3) for one sample, ...
    """
    if not isinstance(data, ECGData):
        raise TypeError(f"Expected data as an erts_kit ECGData, got {type(data).__name__}: "
                        "build one with erts_kit.data.load_dataset(...) or ECGData(signals, labels, ...).")
    for s in ("train", "val"):
        if s not in data.splits or len(data.splits[s]) == 0:
            sizes = {k: int(len(v)) for k, v in data.splits.items()}
            raise ValueError(f"Expected a non-empty {s!r} split (training needs {s} samples), got split sizes "
                             f"{sizes}: set data.splits = {{'train': ..., 'val': ..., 'test': ...}}; for MIT-BIH "
                             f"load with val_records=[...], n_folds=k or n_val_records >= 1 "
                             f"(erts_kit.data.protocol.inter_patient_splits), with records of that split loaded.")
    # NaN/inf in validation or test would fail only after an epoch (or all of them), blaming the model.
    data.check_finite([s for s in data.splits if s != "train"])
    n_leads, n_classes = getattr(model, "n_leads", None), getattr(model, "n_classes", None)
    if n_leads is not None and n_leads != data.n_leads:
        raise ValueError(f"Lead-count mismatch: the model takes {n_leads} leads, the data has {data.n_leads}: "
                         f"rebuild the model with build_model(..., n_leads={data.n_leads}).")
    if n_classes is not None and n_classes != data.n_classes:
        raise ValueError(f"Class-count mismatch: the model outputs {n_classes} classes, the data has "
                         f"{data.n_classes} ({data.class_names}): rebuild it with n_classes={data.n_classes}.")
    if data.multilabel != (loss == "bce"):
        want = "'bce'" if data.multilabel else "'ce' or 'cb_ce'"
        kind = "multi-label (N, C)" if data.multilabel else "single-label (N,)"
        raise ValueError(f"Loss {loss!r} does not fit {kind} labels: use loss={want}.")
    was_training = model.training
    model.eval()
    _check_aux_width(model, data)
    x = torch.from_numpy(np.array(data.signals[data.splits["train"][:1]], dtype=np.float32)).to(device)
    aux = None if data.aux is None else torch.from_numpy(data.aux[data.splits["train"][:1]]).to(device)
    try:
        with torch.no_grad():
            out = model(x) if aux is None else model(x, aux)
    except Exception as err:
        raise ValueError(f"Shape mismatch: the model failed on one training sample of shape {tuple(x.shape)} "
                         f"(batch, leads, T): {type(err).__name__}: {err}") from err
    finally:
        model.train(was_training)
    if tuple(out.shape) != (1, data.n_classes):
        raise ValueError(f"Class-count mismatch: the model returned logits of shape {tuple(out.shape)} for one "
                         f"sample, expected (1, {data.n_classes}) for classes {data.class_names}.")
    n_bad = len(data.non_finite("train"))   # in chunks: no copy of the whole training split
    if n_bad:
        warnings.warn(f"{n_bad} training samples hold NaN/inf values: training stops with NonFiniteLossError "
                      f"as soon as one of them is trained on.", stacklevel=4)
