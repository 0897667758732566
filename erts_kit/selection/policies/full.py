"""The full-data baseline: :class:`FullPolicy` trains on every sample of every epoch."""
from __future__ import annotations

from typing import Any

import torch

from ..._validation import check_int
from ..base import BatchInfo, BatchScorer, BatchSelection, Decision
from .common import _batch_size, _selection

__all__ = ["FullPolicy"]


class FullPolicy:
    """Every sample, every epoch (decision FULL); never calls the scorer.

    Example:
        >>> b = BatchInfo(x=torch.zeros(2, 1, 4), y=torch.tensor([0, 1]), indices=torch.tensor([5, 6]), step=0)
        >>> FullPolicy().select(0, b, scorer=None).keep.tolist()
        [True, True]
    """

    name = "full"
    warm_up = 0
    start_revision = None

    def needs_scoring(self, epoch: int) -> bool:
        """Whether ``select`` will ask for ``p_true`` in this epoch (never)."""
        return False

    def needs_focus(self, epoch: int) -> bool:
        """Whether ``select`` will ask for Grad-CAM focus in this epoch (never)."""
        return False

    def __init__(self, seed: int = 42) -> None:
        self.seed = check_int("seed", seed, minimum=0)  # unused: nothing random

    def params(self) -> dict[str, Any]:
        """The policy's settings (for run manifests)."""
        return {"name": self.name, "seed": self.seed}

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer | None) -> BatchSelection:
        b = _batch_size(batch)
        return _selection(b, torch.full((b,), int(Decision.FULL), dtype=torch.int8))

    def __repr__(self) -> str:
        return "FullPolicy()"
