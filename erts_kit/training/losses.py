"""Training losses, computed per sample so the loop can reduce over any subset (or over DDP ranks).

``ce`` is plain cross-entropy (the paper's full-data baseline), ``cb_ce`` the class-balanced
cross-entropy of Cui et al. (CVPR 2019, "effective number of samples", beta = 0.9999) that the ERTS
reference code uses for its PDD/ERTS runs, and ``bce`` binary cross-entropy for multi-label targets.

A :class:`ClassificationLoss` returns per-sample losses *and* per-sample weights. The reduced loss is
chosen by ``reduction``:

* ``"weight_sum"`` (the kit's default): ``sum(w_i * l_i) / sum(w_i)``, which equals
  ``torch.nn.CrossEntropyLoss(weight=w)`` (weighted mean). The loss scale does not depend on which
  classes a kept subset holds, and a class with no training sample gets weight 0.
* ``"mean"`` (the reference code): ``sum(w_i * l_i) / n``, the class-weighted per-sample loss averaged
  over the n kept samples (``CrossEntropyLoss(weight=w, reduction='none').mean()``). The step size
  then follows the classes a batch happens to keep; with the reference's class weights
  (``empty_class="reference"``: a class with no training sample gets ``(1 - beta) / 1e-8``, a huge
  weight, before the weights are scaled to sum to C) every present class's weight, and so the whole
  loss, shrinks when a class is empty.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_choice, check_range

LOSSES = ("ce", "cb_ce", "bce")
REDUCTIONS = ("weight_sum", "mean")
EMPTY_CLASS = ("zero", "reference")


def class_balanced_weights(counts, beta: float = 0.9999, max_ratio: float | None = None,
                           empty_class: str = "zero") -> torch.Tensor:
    """Class weights from the effective number of samples, ``(1 - beta) / (1 - beta**n_c)``, optionally capped.

    Weights are scaled to sum to the number of classes C (as in Cui et al.); a class with no samples
    gets weight 0 (it never appears as a target). ``beta -> 0`` gives equal weights, ``beta -> 1``
    inverse class frequency. ``empty_class="reference"`` reproduces the reference code instead: the
    effective number of an empty class is floored at 1e-8, so it gets a huge raw weight and, after the
    scaling to C, every present class a tiny one (harmless under ``reduction="weight_sum"``, which
    divides the scale out; not under ``"mean"``).

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
        empty_class: ``"zero"`` (kit) or ``"reference"``.

    Returns:
        float32 tensor (C,).

    Example:
        >>> class_balanced_weights([1, 3], beta=0.5)  # raw 1 and 4/7, scaled by 2 / (11/7)
        tensor([1.2727, 0.7273])
        >>> class_balanced_weights([1, 1000], beta=0.999999, max_ratio=10.0)  # ratio ~1000 capped at 10
        tensor([1.8182, 0.1818])
        >>> class_balanced_weights([1, 0], beta=0.5, empty_class="reference")  # raw 1 and 0.5 / 1e-8
        tensor([4.0000e-08, 2.0000e+00])
    """
    check_range("beta", beta, 0.0, 1.0, high_inclusive=False)
    if max_ratio is not None:
        check_range("max_ratio", max_ratio, 1.0)
    check_choice("empty_class", empty_class, EMPTY_CLASS)
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
    if empty_class == "reference":
        raw[~present] = (1.0 - beta) / 1e-8
    w = raw / raw.sum() * n.size
    return torch.tensor(w, dtype=torch.float32)


class ClassificationLoss(nn.Module):
    """Per-sample loss with weights; ``forward`` gives the weighted mean.

    Args:
        kind: ``"ce"``, ``"cb_ce"`` (needs ``class_weights``) or ``"bce"`` (multi-hot targets; the
            per-sample loss is the mean over classes).
        class_weights: (C,) weights for ``cb_ce``.
        reduction: ``"weight_sum"`` (kit) or ``"mean"`` (reference code); see the module docstring.

    Example:
        >>> loss = ClassificationLoss("ce")
        >>> logits, y = torch.zeros(2, 3), torch.tensor([0, 2])
        >>> round(float(loss(logits, y)), 4)  # log(3)
        1.0986
        >>> w = torch.tensor([2.0, 1.0, 1.0])
        >>> round(float(ClassificationLoss("cb_ce", w)(logits, y)), 4)                      # (2+1)/3 * log 3
        1.0986
        >>> round(float(ClassificationLoss("cb_ce", w, reduction="mean")(logits, y)), 4)    # (2+1)/2 * log 3
        1.6479
    """

    def __init__(self, kind: str = "ce", class_weights: torch.Tensor | None = None,
                 reduction: str = "weight_sum") -> None:
        super().__init__()
        self.kind = check_choice("loss", kind, LOSSES)
        self.reduction = check_choice("loss reduction", reduction, REDUCTIONS)
        if kind == "cb_ce" and class_weights is None:
            raise ValueError("loss 'cb_ce' needs class_weights: build it with make_loss('cb_ce', labels=...).")
        w = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", w)

    def sample_weights(self, y: torch.Tensor) -> torch.Tensor:
        """(B,) weight of each target in the reduction (1, or the class weight under ``cb_ce``)."""
        if self.kind == "cb_ce":
            return self.class_weights.to(y.device)[y]
        return torch.ones(y.shape[0], device=y.device)

    def normaliser(self, y: torch.Tensor) -> torch.Tensor:
        """What the summed per-sample losses of targets ``y`` are divided by: sum of weights, or the count."""
        if self.reduction == "mean":
            return torch.tensor(float(y.shape[0]), device=y.device)
        return self.sample_weights(y).sum().float()

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
        losses, _ = self.per_sample(logits, y)
        return losses.sum() / self.normaliser(y).clamp_min(torch.finfo(torch.float32).tiny)


def make_loss(kind: str, labels: np.ndarray | None = None, n_classes: int | None = None,
              beta: float = 0.9999, max_weight_ratio: float | None = None, reduction: str = "weight_sum",
              empty_class: str = "zero") -> ClassificationLoss:
    """Build a :class:`ClassificationLoss`; ``cb_ce`` counts classes in ``labels`` (the training split).

    ``max_weight_ratio`` caps ``cb_ce``'s class weights (see :func:`class_balanced_weights`).
    ``reduction`` and ``empty_class`` choose between the kit's and the reference code's behaviour
    (module docstring; :func:`class_balanced_weights`).

    Example:
        >>> make_loss("cb_ce", labels=np.array([0, 1, 1, 1]), n_classes=2, beta=0.5).class_weights
        tensor([1.2727, 0.7273])
    """
    check_choice("loss", kind, LOSSES)
    if kind != "cb_ce":
        return ClassificationLoss(kind, reduction=reduction)
    if labels is None or n_classes is None:
        raise ValueError("loss 'cb_ce' needs the training labels and n_classes to count samples per class.")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"loss 'cb_ce' is for single-label targets (N,), got labels of shape {labels.shape}: "
                         "use loss='bce' for multi-label data.")
    counts = np.bincount(labels.astype(np.int64), minlength=n_classes)
    weights = class_balanced_weights(counts, beta, max_ratio=max_weight_ratio, empty_class=empty_class)
    return ClassificationLoss("cb_ce", weights, reduction=reduction)
