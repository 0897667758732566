"""Training losses, computed per sample so the loop can reduce over any subset (or over DDP ranks).

``ce`` is plain cross-entropy (the paper's full-data baseline), ``cb_ce`` the class-balanced
cross-entropy of Cui et al. (CVPR 2019, "effective number of samples", beta = 0.9999) that the ERTS
reference code uses for its PDD/ERTS runs, and ``bce`` binary cross-entropy for multi-label targets.

A :class:`ClassificationLoss` returns per-sample losses *and* per-sample weights; the reduced loss is
``sum(losses) / sum(weights)``, which equals ``torch.nn.CrossEntropyLoss(weight=w)`` (weighted mean).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_choice, check_range

LOSSES = ("ce", "cb_ce", "bce")


def class_balanced_weights(counts, beta: float = 0.9999, max_ratio: float | None = None) -> torch.Tensor:
    """Class weights from the effective number of samples, ``(1 - beta) / (1 - beta**n_c)``, optionally capped.

    Weights are scaled to sum to the number of classes C (as in Cui et al.); a class with no samples
    gets weight 0 (it never appears as a target). ``beta -> 0`` gives equal weights, ``beta -> 1``
    inverse class frequency.

    The cap (a departure from Cui et al., off with ``max_ratio=None``): no class weighs more than
    ``max_ratio`` times the lightest class present; heavier ones are clipped to that before scaling.
    Why: on MIT-BIH DS1 (all 22 records through :func:`~erts_kit.data.load_mitbih`: 45,844 N, 944 S,
    3,788 V, 414 F, 8 Q beats) beta = 0.9999 gives each Q beat 1,238x an N beat's weight, so one Q beat
    in a batch of 32 makes ~98% of that step's loss. The kit's default
    (``TrainConfig.cb_max_weight_ratio = 50``) leaves DS1's S (11.0x), V (3.1x) and F (24.4x) weights
    as they are and clips only Q (to 50x); it binds only for a class about 50 times rarer (in effective
    numbers) than the most common one.

    Args:
        counts: (C,) samples per class in the training split.
        beta: in [0, 1).
        max_ratio: largest allowed weight / smallest weight of a present class (>= 1), or None.

    Returns:
        float32 tensor (C,).

    Example:
        >>> class_balanced_weights([1, 3], beta=0.5)  # raw 1 and 4/7, scaled by 2 / (11/7)
        tensor([1.2727, 0.7273])
        >>> class_balanced_weights([1, 1000], beta=0.999999, max_ratio=10.0)  # ratio ~1000 capped at 10
        tensor([1.8182, 0.1818])
    """
    check_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    if max_ratio is not None:
        check_range("max_ratio", max_ratio, 1.0)
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or (n < 0).any():
        raise ValueError(f"Expected counts as a 1-D list of non-negative numbers, got {np.asarray(counts)!r}.")
    if not (n > 0).any():
        raise ValueError("Expected at least one class with samples, got all-zero counts.")
    raw = np.zeros_like(n)
    present = n > 0
    raw[present] = (1.0 - beta) / (1.0 - np.power(beta, n[present]))
    if max_ratio is not None:
        raw[present] = np.minimum(raw[present], float(max_ratio) * raw[present].min())
    w = raw / raw.sum() * n.size
    return torch.tensor(w, dtype=torch.float32)


class ClassificationLoss(nn.Module):
    """Per-sample loss with weights; ``forward`` gives the weighted mean.

    Args:
        kind: ``"ce"``, ``"cb_ce"`` (needs ``class_weights``) or ``"bce"`` (multi-hot targets; the
            per-sample loss is the mean over classes).
        class_weights: (C,) weights for ``cb_ce``.

    Example:
        >>> loss = ClassificationLoss("ce")
        >>> logits, y = torch.zeros(2, 3), torch.tensor([0, 2])
        >>> round(float(loss(logits, y)), 4)  # log(3)
        1.0986
    """

    def __init__(self, kind: str = "ce", class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.kind = check_choice("loss", kind, LOSSES)
        if kind == "cb_ce" and class_weights is None:
            raise ValueError("loss 'cb_ce' needs class_weights: build it with make_loss('cb_ce', labels=...).")
        w = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", w)

    def sample_weights(self, y: torch.Tensor) -> torch.Tensor:
        """(B,) weight of each target in the reduction (1, or the class weight under ``cb_ce``)."""
        if self.kind == "cb_ce":
            return self.class_weights.to(y.device)[y]
        return torch.ones(y.shape[0], device=y.device)

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(losses (B,), weights (B,))``: losses already multiplied by their weights."""
        logits = logits.float()
        if self.kind == "bce":
            losses = F.binary_cross_entropy_with_logits(logits, y.float(), reduction="none").mean(1)
            return losses, torch.ones_like(losses)
        nll = F.cross_entropy(logits, y, reduction="none")
        if self.kind == "ce":
            return nll, torch.ones_like(nll)
        w = self.sample_weights(y)
        return w * nll, w

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        losses, weights = self.per_sample(logits, y)
        return losses.sum() / weights.sum().clamp_min(torch.finfo(torch.float32).tiny)


def make_loss(kind: str, labels: np.ndarray | None = None, n_classes: int | None = None,
              beta: float = 0.9999, max_weight_ratio: float | None = None) -> ClassificationLoss:
    """Build a :class:`ClassificationLoss`; ``cb_ce`` counts classes in ``labels`` (the training split).

    ``max_weight_ratio`` caps ``cb_ce``'s class weights (see :func:`class_balanced_weights`).

    Example:
        >>> make_loss("cb_ce", labels=np.array([0, 1, 1, 1]), n_classes=2, beta=0.5).class_weights
        tensor([1.2727, 0.7273])
    """
    check_choice("loss", kind, LOSSES)
    if kind != "cb_ce":
        return ClassificationLoss(kind)
    if labels is None or n_classes is None:
        raise ValueError("loss 'cb_ce' needs the training labels and n_classes to count samples per class.")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"loss 'cb_ce' is for single-label targets (N,), got labels of shape {labels.shape}: "
                         "use loss='bce' for multi-label data.")
    counts = np.bincount(labels.astype(np.int64), minlength=n_classes)
    return ClassificationLoss("cb_ce", class_balanced_weights(counts, beta, max_weight_ratio))
