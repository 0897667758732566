"""What a selection policy is: per batch, which samples get the training forward + backward.

The training loop (:mod:`erts_kit.training`) calls ``policy.select(epoch, batch, scorer)`` once per
batch. The policy asks the :class:`BatchScorer` for what it needs (``p_true`` from a no-grad
scoring pass, Grad-CAM focus for its candidates); the scorer computes each thing at most once,
shares forwards where it can, and records every sample it pushes through each pass in the cost
ledger. The policy returns a :class:`BatchSelection`; only kept samples are trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import torch


class Decision(IntEnum):
    """Why a sample was kept or dropped in one epoch (stored as int8 in the selection log)."""

    KEPT = 0               # selected by the policy (and, under ERTS, passed the focus filter)
    DROPPED_CONFIDENT = 1  # PDD did not pick it (confident under DBPD, not drawn under SMRD/SRD)
    DROPPED_LOW_FOCUS = 2  # a PDD candidate that the ERTS focus filter removed
    RESCUED = 3            # removed by the focus filter, kept by the class-aware rescue
    WARMUP = 4             # kept because the epoch is a warm-up epoch
    REVISION = 5           # kept because the epoch is a revision epoch
    FULL = 6               # full-data policy: every sample, every epoch
    FLOOR = 7              # dropped by the policy's rule, kept by its per-class floor (class_floor)


KEPT_DECISIONS = (Decision.KEPT, Decision.RESCUED, Decision.WARMUP, Decision.REVISION, Decision.FULL,
                  Decision.FLOOR)


@dataclass
class BatchInfo:
    """One batch as the loop sees it: inputs, targets, dataset indices (and aux features), all on the device."""

    x: torch.Tensor        # (B, leads, T)
    y: torch.Tensor        # (B,) int64 class ids, or (B, C) multi-hot
    indices: torch.Tensor  # (B,) int64 dataset indices
    step: int              # global step counter (for seeding random picks)
    aux: torch.Tensor | None = None  # (B, F) per-sample auxiliary features (ECGData.aux), or None


@dataclass
class BatchSelection:
    """A policy's answer for one batch. All tensors are (B,) on the CPU.

    ``p_true``, ``focus`` and ``combined`` hold NaN where the policy did not compute them.
    ``scale`` (optional, float32 (B,)): a factor on each kept sample's loss, with the step's loss
    normalised by the weight of the *whole* batch (kept or not), so a policy that drops samples at
    random with a known probability can keep the expected gradient unbiased (InfoBatch).
    """

    keep: torch.Tensor      # bool
    decision: torch.Tensor  # int8, values of Decision
    p_true: torch.Tensor    # float32
    focus: torch.Tensor     # float32
    combined: torch.Tensor  # float32
    scale: torch.Tensor | None = None  # float32 loss factors, or None (plain weighted mean over the kept)


class BatchScorer(Protocol):
    """Lazy per-batch scores, computed by the training loop's scorer and charged to the ledger."""

    def p_true(self) -> torch.Tensor:
        """(B,) softmax probability of the true class, from a no-grad scoring pass."""
        ...

    def focus(self, candidates: torch.Tensor) -> torch.Tensor:
        """(len(candidates),) focus of the Grad-CAM map (true class) of the given batch positions."""
        ...

    # Optional, used through ``getattr`` so simple stand-in scorers need not define them:
    #   expect_focus(name) -> None   ERTS announces it will ask for focus, so one shared forward
    #                                gives both p_true and the Grad-CAM maps.
    #   pred_correct() -> Tensor     (B,) bool, whether argmax == true class (DBPD with tau == 0).


class SelectionPolicy(Protocol):
    """What the training loop needs from a policy."""

    name: str

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer) -> BatchSelection:
        ...
