"""Cached-score ERTS: :class:`CachedERTSPolicy` decides from the scores recorded when a sample was last seen.

The published ERTS (and DBPD) forward every sample every epoch to score it, so an epoch cannot cost
less than about a third of a full one. This variant pays the scoring pass (p_true and, once the
focus filter is on, Grad-CAM focus: one shared pass) only in *re-score epochs*: the first epoch after
warm-up, the first filter epoch, then every ``rescore_every`` epochs. In the other epochs it applies
the same rules (DBPD: keep ``p_true < tau``; ERTS filter: top ``phi`` of the candidates by
``(1 - p_true) * focus``, class-aware rescue) to the cached values:

- p_true is refreshed for free whenever a sample is trained (the training forward's logits, in train
  mode, reach the policy through ``observe``), and by the scoring pass of a re-score epoch;
- focus is refreshed only by a re-score epoch's Grad-CAM;
- a sample dropped as confident keeps its old p_true until the next re-score epoch: that is what the
  cache saves, and what it risks.

The cost ledger shows the saving: ``scored`` and ``gradcam`` grow only in re-score epochs.
"""
from __future__ import annotations

from typing import Any

import torch

from ..._validation import check_int, check_range
from ..base import BatchInfo, BatchScorer, BatchSelection, Decision
from ..rules import erts_filter
from .cache import CachedScores, ScoreCache
from .common import _batch_size, _nan, _selection, class_keys, schedule_stage

__all__ = ["CachedERTSPolicy"]


class CachedERTSPolicy(CachedScores):
    """XAI-DBPD from cached p_true and focus, re-scored every ``rescore_every`` epochs (module docstring).

    Args:
        tau: DBPD threshold (keep ``p_true < tau``), in (0, 1].
        phi: share of the candidates the focus filter keeps, in (0, 1].
        warm_up: epochs on every sample (p_true cached from their training forwards).
        cam_start: epochs after warm-up before the focus filter starts.
        rescore_every: a scoring pass every this many epochs (>= 1; 1 is the published ERTS cost).
        focus: focus-score name (``erts_kit.explain.FOCUS_SCORES``).
        start_revision: first revision epoch (every sample), or None.
        seed: unused (deterministic); kept for a uniform signature.

    Example:
        >>> p = CachedERTSPolicy(warm_up=2, cam_start=2, rescore_every=3)
        >>> [p.is_rescore_epoch(e) for e in range(9)]
        [False, False, True, False, True, False, False, True, False]
    """

    name = "cached_erts"
    quality_filter = True

    def __init__(self, tau: float = 0.3, phi: float = 0.7, warm_up: int = 5, cam_start: int = 3,
                 rescore_every: int = 3, focus: str = "topk_mean", start_revision: int | None = None,
                 seed: int = 42) -> None:
        self.tau = float(check_range("tau", tau, 0.0, 1.0, low_inclusive=False))
        self.phi = float(check_range("phi", phi, 0.0, 1.0, low_inclusive=False))
        self.warm_up = check_int("warm_up", warm_up, minimum=0)
        self.cam_start = check_int("cam_start", cam_start, minimum=0)
        self.rescore_every = check_int("rescore_every", rescore_every, minimum=1)
        if not isinstance(focus, str):
            raise TypeError(f"Expected focus to be a focus-score name (str), got {type(focus).__name__}.")
        self.focus_name = focus
        if start_revision is not None and check_int("start_revision", start_revision, minimum=0) < self.warm_up:
            raise ValueError(f"Expected start_revision >= warm_up ({self.warm_up}), got {start_revision}.")
        self.start_revision = start_revision
        self.seed = check_int("seed", seed, minimum=0)
        self.cache = ScoreCache()

    @property
    def filter_start(self) -> int:
        """First epoch (0-based) of the focus filter: ``warm_up + cam_start``."""
        return self.warm_up + self.cam_start

    def stage(self, epoch: int) -> str:
        """``'warmup'``, ``'revision'``, ``'select'`` (cached DBPD) or ``'filter'`` (cached DBPD + focus filter)."""
        stage = schedule_stage(epoch, self.warm_up, self.start_revision)
        return "filter" if stage == "select" and epoch >= self.filter_start else stage

    def is_rescore_epoch(self, epoch: int) -> bool:
        """Whether ``epoch`` pays a scoring pass: first selection epoch, first filter epoch, then every k-th."""
        if self.stage(epoch) in ("warmup", "revision"):
            return False
        if epoch in (self.warm_up, self.filter_start):
            return True
        anchor = self.filter_start if epoch > self.filter_start else self.warm_up
        return (epoch - anchor) % self.rescore_every == 0

    def needs_scoring(self, epoch: int) -> bool:
        """Whether ``select`` asks the scorer for p_true in this epoch (re-score epochs only)."""
        return self.is_rescore_epoch(epoch)

    def needs_focus(self, epoch: int) -> bool:
        """Whether ``select`` asks for Grad-CAM focus (re-score epochs of the filter stage)."""
        return self.is_rescore_epoch(epoch) and self.stage(epoch) == "filter"

    def params(self) -> dict[str, Any]:
        """The policy's settings; ``make_policy(**params)`` rebuilds it."""
        return {"name": self.name, "tau": self.tau, "phi": self.phi, "warm_up": self.warm_up, "cam_start": self.cam_start,
                "rescore_every": self.rescore_every, "focus": self.focus_name, "start_revision": self.start_revision,
                "seed": self.seed}

    def _scores(self, epoch: int, batch: BatchInfo, scorer: BatchScorer, idx: torch.Tensor, stage: str):
        """(p_true, focus or None): fresh from the scorer in a re-score epoch (and cached), else from the cache."""
        if self.is_rescore_epoch(epoch):
            want_focus = stage == "filter"
            hint = getattr(scorer, "expect_focus", None)
            if want_focus and hint is not None:
                hint(self.focus_name)
            p = scorer.p_true().detach().cpu().float()
            f = torch.as_tensor(scorer.focus(torch.arange(len(idx)))).detach().cpu().float() if want_focus else None
            self.cache.record_scores(epoch, idx, p, f)
            return p, f
        p = self.cache.get("p_true", idx).clone()
        p[~torch.isfinite(p)] = 0.0            # never seen: treat as hard (kept)
        return p, (self.cache.get("focus", idx).clone() if stage == "filter" else None)

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer) -> BatchSelection:
        b = _batch_size(batch)
        stage = self.stage(epoch)
        if stage in ("warmup", "revision"):
            dec = Decision.WARMUP if stage == "warmup" else Decision.REVISION
            return _selection(b, torch.full((b,), int(dec), dtype=torch.int8))
        idx = batch.indices.detach().cpu()
        p, f = self._scores(epoch, batch, scorer, idx, stage)
        cand = torch.nonzero(p < self.tau).view(-1)
        decision = torch.full((b,), int(Decision.DROPPED_CONFIDENT), dtype=torch.int8)
        if stage == "select" or len(cand) == 0:
            decision[cand] = int(Decision.KEPT)
            return _selection(b, decision, p_true=p)
        f_cand = f[cand].clone()
        f_cand[~torch.isfinite(f_cand)] = 1.0  # no focus yet: do not filter it out
        kept, rescued = erts_filter(cand, p, f_cand, class_keys(batch.y), self.phi)
        decision[cand] = int(Decision.DROPPED_LOW_FOCUS)
        decision[kept] = int(Decision.KEPT)
        decision[rescued] = int(Decision.RESCUED)
        focus, combined = _nan(b), _nan(b)
        focus[cand] = f_cand
        combined[cand] = (1.0 - p[cand]) * f_cand
        return _selection(b, decision, p_true=p, focus=focus, combined=combined)

    def __repr__(self) -> str:
        return (f"CachedERTSPolicy(tau={self.tau}, phi={self.phi}, warm_up={self.warm_up}, cam_start={self.cam_start}, "
                f"rescore_every={self.rescore_every}, focus={self.focus_name!r})")
