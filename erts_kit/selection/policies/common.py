"""What every selection policy shares: seeded random picks, one class per sample, and the
:class:`~erts_kit.selection.base.BatchSelection` built from per-sample decisions.

The underscored helpers are for the policy modules of this package only.
"""
from __future__ import annotations

import numpy as np
import torch

from ..base import KEPT_DECISIONS, BatchInfo, BatchSelection

__all__ = ["class_keys", "pick_generator"]


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
