"""What every selection policy shares: seeded random picks, one class per sample, and the
:class:`~erts_kit.selection.base.BatchSelection` built from per-sample decisions.

The underscored helpers are for the policy modules of this package only.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..._validation import check_int, check_range
from ..base import KEPT_DECISIONS, BatchInfo, BatchSelection, Decision

__all__ = ["class_floor_pick", "class_keys", "pick_generator", "schedule_stage"]


def schedule_stage(epoch: int, warm_up: int, start_revision: int | None) -> str:
    """The PDD schedule of a 0-based epoch: ``'warmup'``, ``'revision'`` or ``'select'``.

    Example:
        >>> [schedule_stage(e, warm_up=2, start_revision=4) for e in range(5)]
        ['warmup', 'warmup', 'select', 'select', 'revision']
    """
    epoch = check_int("epoch", epoch, minimum=0)
    if epoch < warm_up:
        return "warmup"
    if start_revision is not None and epoch >= start_revision:
        return "revision"
    return "select"


def pick_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, epoch, step)`` with numpy's SeedSequence.

    Example:
        >>> a = torch.randperm(5, generator=pick_generator(42, 3, 17))
        >>> b = torch.randperm(5, generator=pick_generator(42, 3, 17))
        >>> bool((a == b).all())
        True
    """
    state = np.random.SeedSequence([int(seed), int(epoch), int(step)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def class_keys(y: torch.Tensor) -> torch.Tensor:
    """(B,) int64 class per sample on the CPU: ``y`` itself, or for multi-hot (B, C) the first positive class.

    Example:
        >>> class_keys(torch.tensor([[0., 1., 1.], [1., 0., 0.]])).tolist()
        [1, 0]
    """
    y = y.detach().cpu()
    if y.dim() == 2:
        return y.float().argmax(dim=1).to(torch.int64)
    if y.dim() != 1:
        raise ValueError(f"Expected targets of shape (B,) or (B, C), got {tuple(y.shape)}.")
    return y.to(torch.int64)


def _nan(b: int) -> torch.Tensor:
    return torch.full((b,), float("nan"), dtype=torch.float32)


def _selection(b: int, decision: torch.Tensor, p_true: torch.Tensor | None = None,
               focus: torch.Tensor | None = None, combined: torch.Tensor | None = None) -> BatchSelection:
    decision = decision.to(torch.int8)
    keep = torch.isin(decision, torch.tensor([int(d) for d in KEPT_DECISIONS], dtype=torch.int8))
    as_f = (lambda t: _nan(b) if t is None else t.detach().cpu().to(torch.float32))
    return BatchSelection(keep=keep, decision=decision, p_true=as_f(p_true), focus=as_f(focus),
                          combined=as_f(combined))


def _batch_size(batch: BatchInfo) -> int:
    return int(batch.indices.numel())


def class_floor_pick(kept: torch.Tensor, classes: torch.Tensor, floor: float, p_true: torch.Tensor) -> torch.Tensor:
    """Batch positions to add so every class keeps at least ``ceil(floor * n_c)`` of its ``n_c`` samples.

    A class short of its floor is topped up with its *hardest* dropped samples (lowest ``p_true``;
    ties: the earlier position). ``floor = 0`` adds nothing; any ``floor > 0`` keeps at least one
    sample of every class present in the batch.

    Args:
        kept: (B,) bool, what the policy keeps so far.
        classes: (B,) int64 class per sample (:func:`class_keys`).
        floor: share of each class's samples in the batch to keep at least, in [0, 1].
        p_true: (B,) probability of the true class (lower = harder).

    Returns:
        (n,) int64 sorted positions, all of them not in ``kept``.

    Example:
        >>> kept = torch.tensor([True, True, True, False, False, False])
        >>> cls = torch.tensor([0, 0, 0, 1, 1, 1])
        >>> class_floor_pick(kept, cls, 0.5, torch.tensor([.1, .2, .3, .9, .4, .8])).tolist()  # class 1: 2 of 3
        [4, 5]
    """
    check_range("class_floor", floor, 0.0, 1.0)
    kept = kept.detach().cpu().to(torch.bool)
    classes = classes.detach().cpu().to(torch.int64)
    p = p_true.detach().cpu().to(torch.float64)
    picks = []
    for c in torch.unique(classes).tolist():
        members = torch.nonzero(classes == c).flatten()
        need = math.ceil(floor * len(members) - 1e-9) - int(kept[members].sum())
        if need <= 0:
            continue
        dropped = members[~kept[members]]
        order = torch.sort(p[dropped], stable=True).indices  # hardest first
        picks.append(dropped[order[:need]])
    return torch.sort(torch.cat(picks)).values if picks else torch.zeros(0, dtype=torch.int64)


def _apply_floor(decision: torch.Tensor, y: torch.Tensor, floor: float,
                 p_true: torch.Tensor | None, get_p: Callable[[], torch.Tensor]) -> torch.Tensor | None:
    """Mark :func:`class_floor_pick`'s positions FLOOR in ``decision`` (in place); return ``p_true`` (asked for
    through ``get_p`` only when a class is short and the policy had not computed it)."""
    if not floor:
        return p_true
    kept = torch.isin(decision, torch.tensor([int(d) for d in KEPT_DECISIONS], dtype=decision.dtype))
    classes = class_keys(y)
    counts = torch.bincount(classes)
    kept_counts = torch.bincount(classes[kept], minlength=len(counts))
    need = torch.ceil(floor * counts.double() - 1e-9).long()
    if bool((kept_counts >= need).all()):
        return p_true
    p = get_p() if p_true is None else p_true
    decision[class_floor_pick(kept, classes, floor, p)] = int(Decision.FLOOR)
    return p
