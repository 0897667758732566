"""The Progressive Data Dropout policies: the shared PDD epoch schedule and its three variants.

:class:`DBPDPolicy` (difficulty-based), :class:`SMRDPolicy` (schedule-matched random) and
:class:`SRDPolicy` (scalar random) share ``_PDDPolicy``'s warm-up / revision / selection schedule and
differ only in ``candidates()``, which :class:`~erts_kit.selection.policies.erts.ERTSPolicy`
also calls to get the samples its focus filter ranks.
"""
from __future__ import annotations

from typing import Any

import torch

from ..._validation import check_int, check_range
from ..base import BatchInfo, BatchScorer, BatchSelection, Decision
from ..rules import dbpd_candidates, dbpd_rescue, smrd_pick, srd_count
from .common import (
    _apply_floor,
    _batch_size,
    _selection,
    class_keys,
    pick_generator,
    schedule_stage,
)

__all__ = ["DBPDPolicy", "SMRDPolicy", "SRDPolicy"]


def _pred_correct(scorer: BatchScorer) -> torch.Tensor:
    fn = getattr(scorer, "pred_correct", None)
    if fn is None:
        raise TypeError(f"tau == 0 ('keep the misclassified') needs scorer.pred_correct(), which "
                        f"{type(scorer).__name__} lacks: use ModelBatchScorer or a tau > 0.")
    return fn()


class _PDDPolicy:
    """Shared schedule of the PDD variants: warm-up, revision, then :meth:`candidates` each batch.

    ``class_floor`` (in [0, 1], default 0: off; a kit addition, not in PDD or ERTS): in a selection
    epoch each class keeps at least ``ceil(class_floor * n_c)`` of its ``n_c`` samples of the batch,
    topped up with its hardest dropped samples (lowest p_true), decision FLOOR
    (:func:`~erts_kit.selection.policies.common.class_floor_pick`). SRD pays a scoring pass for a
    batch that needs a top-up. Shown in ``params()`` only when set.
    """

    name = "pdd"
    scores = True  # whether candidates() needs the scoring pass

    def __init__(self, warm_up: int = 5, start_revision: int | None = None, seed: int = 42,
                 class_floor: float = 0.0) -> None:
        self.warm_up = check_int("warm_up", warm_up, minimum=0)
        if start_revision is not None:
            start_revision = check_int("start_revision", start_revision, minimum=0)
            if start_revision < self.warm_up:
                raise ValueError(f"Expected start_revision >= warm_up ({self.warm_up}), got {start_revision}: "
                                 f"revision cannot begin before warm-up ends; use None for no revision.")
        self.start_revision = start_revision
        self.seed = check_int("seed", seed, minimum=0)
        self.class_floor = float(check_range("class_floor", class_floor, 0.0, 1.0))

    def stage(self, epoch: int) -> str:
        """``'warmup'``, ``'revision'`` or ``'select'`` for a 0-based epoch index."""
        return schedule_stage(epoch, self.warm_up, self.start_revision)

    def needs_scoring(self, epoch: int) -> bool:
        """Whether ``select`` will ask the scorer for ``p_true`` in this epoch."""
        return self.stage(epoch) == "select" and self.scores

    def needs_focus(self, epoch: int) -> bool:
        """Whether ``select`` will ask the scorer for Grad-CAM focus in this epoch."""
        return False

    def candidates(self, epoch: int, batch: BatchInfo,
                   scorer: BatchScorer) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(n,) sorted batch positions PDD keeps, and the (B,) p_true if it was computed (else None)."""
        raise NotImplementedError

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer) -> BatchSelection:
        b = _batch_size(batch)
        stage = self.stage(epoch)
        if stage != "select":
            dec = Decision.WARMUP if stage == "warmup" else Decision.REVISION
            return _selection(b, torch.full((b,), int(dec), dtype=torch.int8))
        cand, p = self.candidates(epoch, batch, scorer)
        decision = torch.full((b,), int(Decision.DROPPED_CONFIDENT), dtype=torch.int8)
        decision[cand] = int(Decision.KEPT)
        p = self.floor(decision, batch, scorer, p)
        return _selection(b, decision, p_true=p)

    def floor(self, decision: torch.Tensor, batch: BatchInfo, scorer: BatchScorer,
              p: torch.Tensor | None) -> torch.Tensor | None:
        """Apply ``class_floor`` to a selection epoch's ``decision`` (in place); return p_true (computed if needed)."""
        return _apply_floor(decision, batch.y, self.class_floor, p, scorer.p_true)

    def params(self) -> dict[str, Any]:
        """The policy's settings (for run manifests); ``make_policy(**params)`` rebuilds it."""
        floor = {"class_floor": self.class_floor} if self.class_floor else {}
        return {"name": self.name, **self._own_params(), "warm_up": self.warm_up,
                "start_revision": self.start_revision, "seed": self.seed, **floor}

    def _own_params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        own = ", ".join(f"{k}={v!r}" for k, v in self._own_params().items())
        floor = f", class_floor={self.class_floor}" if self.class_floor else ""
        return f"{type(self).__name__}({own}, warm_up={self.warm_up}, start_revision={self.start_revision}{floor})"


class DBPDPolicy(_PDDPolicy):
    """Difficulty-based PDD: keep samples with ``p_true < tau`` (``tau == 0``: the misclassified).

    Args:
        tau: threshold in [0, 1] (paper: 0.3).
        warm_up: number of warm-up epochs (epochs 0..warm_up-1 use every sample).
        start_revision: first revision epoch, or None.
        seed: unused by DBPD (deterministic); kept for a uniform signature.
        class_floor: per-class floor on the kept share of a batch (see ``_PDDPolicy``; 0: off).
        rescue: also keep the first sample of every class of the batch that has no candidate
            (:func:`~erts_kit.selection.rules.dbpd_rescue`, decision RESCUED), as the reference code's
            DBPD does. Off by default (the published rule has no rescue). Under ERTS (``xai_dbpd``
            with ``rescue=True``) the rescued samples join the candidates the focus filter ranks.

    Example:
        >>> from erts_kit.selection.base import BatchInfo
        >>> class Scores:                      # a stand-in scorer: p_true only
        ...     def p_true(self): return torch.tensor([0.1, 0.9, 0.8, 0.2])
        >>> b = BatchInfo(x=torch.zeros(4, 1, 8), y=torch.tensor([0, 1, 1, 0]), indices=torch.arange(4), step=0)
        >>> DBPDPolicy(warm_up=0).select(0, b, Scores()).keep.tolist()
        [True, False, False, True]
        >>> DBPDPolicy(warm_up=0, rescue=True).select(0, b, Scores()).decision.tolist()   # 3 = RESCUED
        [0, 3, 1, 0]
    """

    name = "dbpd"

    def __init__(self, tau: float = 0.3, warm_up: int = 5, start_revision: int | None = None, seed: int = 42,
                 rescue: bool = False, class_floor: float = 0.0) -> None:
        super().__init__(warm_up, start_revision, seed, class_floor)
        self.tau = float(check_range("tau", tau, 0.0, 1.0))
        if not isinstance(rescue, bool):
            raise TypeError(f"Expected rescue to be True or False, got {rescue!r}.")
        self.rescue = rescue

    def _own_params(self) -> dict[str, Any]:
        # rescue is listed only when on, so the settings of runs made before the option are unchanged
        return {"tau": self.tau, **({"rescue": True} if self.rescue else {})}

    def _difficult(self, scorer) -> tuple[torch.Tensor, torch.Tensor]:
        p = scorer.p_true()
        pc = _pred_correct(scorer) if self.tau == 0 else None
        return dbpd_candidates(p, self.tau, pc), p

    def candidates(self, epoch, batch, scorer):
        cand, p = self._difficult(scorer)
        if self.rescue:
            cand = torch.sort(torch.cat([cand, dbpd_rescue(cand, class_keys(batch.y))])).values
        return cand, p

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer) -> BatchSelection:
        sel = super().select(epoch, batch, scorer)
        if self.rescue and self.stage(epoch) == "select":
            cand, _ = self._difficult(scorer)   # p_true is cached: a pure recomputation
            sel.decision[dbpd_rescue(cand, class_keys(batch.y))] = int(Decision.RESCUED)
        return sel


class SMRDPolicy(DBPDPolicy):
    """Schedule-matched random PDD: as many samples as DBPD would keep, drawn at random.

    Needs the scoring pass (to know DBPD's count). Picks are seeded by ``(seed, epoch, batch.step)``.
    """

    name = "smrd"

    def __init__(self, tau: float = 0.3, warm_up: int = 5, start_revision: int | None = None, seed: int = 42,
                 class_floor: float = 0.0) -> None:
        super().__init__(tau, warm_up, start_revision, seed, class_floor=class_floor)   # no rescue: picks are random

    def candidates(self, epoch, batch, scorer):
        p = scorer.p_true()
        pc = _pred_correct(scorer) if self.tau == 0 else None
        n = len(dbpd_candidates(p, self.tau, pc))
        return smrd_pick(n, _batch_size(batch), pick_generator(self.seed, epoch, batch.step)), p


class SRDPolicy(_PDDPolicy):
    """Scalar random PDD: ``int(gamma ** epoch * B)`` random samples; no scoring pass.

    ``epoch`` is the 0-based epoch index (warm-up included), as in the published formula.
    """

    name = "srd"
    scores = False

    def __init__(self, gamma: float = 0.99, warm_up: int = 5, start_revision: int | None = None, seed: int = 42,
                 class_floor: float = 0.0) -> None:
        super().__init__(warm_up, start_revision, seed, class_floor)
        self.gamma = float(check_range("gamma", gamma, 0.0, 1.0, low_inclusive=False))

    def _own_params(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    def candidates(self, epoch, batch, scorer):
        b = _batch_size(batch)
        n = srd_count(epoch, b, self.gamma)
        return smrd_pick(n, b, pick_generator(self.seed, epoch, batch.step)), None

