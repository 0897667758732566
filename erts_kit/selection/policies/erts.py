"""ERTS: :class:`ERTSPolicy` wraps a PDD policy and passes its candidates through the Grad-CAM focus filter."""
from __future__ import annotations

from typing import Any

import torch

from ..._validation import check_choice, check_int, check_range
from ..base import BatchInfo, BatchScorer, BatchSelection, Decision
from ..rules import erts_filter
from .common import _batch_size, _nan, _selection, class_keys
from .pdd import _PDDPolicy

__all__ = ["ERTSPolicy"]


class ERTSPolicy:
    """ERTS: a PDD policy whose candidates pass an explanation-quality (Grad-CAM focus) filter.

    From epoch ``base.warm_up + cam_start`` on, for the candidates PDD picks: ``combined =
    (1 - p_true) * focus``, keep the top ``max(1, int(phi * n))``, then rescue the best candidate of
    every class left without one (:func:`~erts_kit.selection.rules.erts_filter`). Decisions:
    DROPPED_CONFIDENT (not a PDD candidate), KEPT, DROPPED_LOW_FOCUS, RESCUED, and FLOOR when the
    base's ``class_floor`` tops a class up after the filter. Before that epoch, and in
    warm-up/revision epochs, it is exactly ``base``.

    Before asking for ``p_true`` in a filter epoch the policy calls ``scorer.expect_focus(focus)``
    when the scorer has it, so :class:`~erts_kit.selection.scoring.ModelBatchScorer` can get
    ``p_true`` and the maps from one shared pass.

    Args:
        base: the PDD policy giving the candidates (DBPDPolicy, SMRDPolicy or SRDPolicy).
        phi: fraction of candidates kept, in (0, 1] (paper: 0.7).
        cam_start: epochs after warm-up before the filter starts (paper: 3).
        focus: focus-score name (``erts_kit.explain.FOCUS_SCORES``; paper: ``'topk_mean'``).
    """

    def __init__(self, base: _PDDPolicy, phi: float = 0.7, cam_start: int = 3, focus: str = "topk_mean") -> None:
        if not isinstance(base, _PDDPolicy):
            raise TypeError(f"Expected base to be a PDD policy (DBPDPolicy, SMRDPolicy or SRDPolicy), "
                            f"got {type(base).__name__}.")
        self.base = base
        self.phi = float(check_range("phi", phi, 0.0, 1.0, low_inclusive=False))
        self.cam_start = check_int("cam_start", cam_start, minimum=0)
        self.focus_name = _check_focus(focus)
        self.name = f"xai_{base.name}"

    @property
    def warm_up(self) -> int:
        return self.base.warm_up

    @property
    def start_revision(self) -> int | None:
        return self.base.start_revision

    @property
    def filter_start(self) -> int:
        """First epoch (0-based) where the focus filter is active: ``warm_up + cam_start``."""
        return self.base.warm_up + self.cam_start

    def stage(self, epoch: int) -> str:
        """``'warmup'``, ``'revision'``, ``'select'`` (plain PDD) or ``'filter'`` (PDD + focus filter)."""
        s = self.base.stage(epoch)
        return "filter" if s == "select" and epoch >= self.filter_start else s

    def needs_scoring(self, epoch: int) -> bool:
        """Whether ``select`` will ask the scorer for ``p_true`` in this epoch."""
        return self.stage(epoch) == "filter" or self.base.needs_scoring(epoch)

    def needs_focus(self, epoch: int) -> bool:
        """Whether ``select`` will ask the scorer for Grad-CAM focus in this epoch."""
        return self.stage(epoch) == "filter"

    def params(self) -> dict[str, Any]:
        """The policy's settings; ``make_policy(**params)`` rebuilds it."""
        p = self.base.params()
        p.update(name=self.name, phi=self.phi, cam_start=self.cam_start, focus=self.focus_name)
        return p

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer) -> BatchSelection:
        if self.stage(epoch) != "filter":
            return self.base.select(epoch, batch, scorer)
        b = _batch_size(batch)
        hint = getattr(scorer, "expect_focus", None)
        if hint is not None:
            hint(self.focus_name)
        cand, p = self.base.candidates(epoch, batch, scorer)
        decision = torch.full((b,), int(Decision.DROPPED_CONFIDENT), dtype=torch.int8)
        if len(cand) == 0:  # nothing to explain: no Grad-CAM is paid
            return _selection(b, decision, p_true=self.base.floor(decision, batch, scorer, p))
        if p is None:
            p = scorer.p_true()
        f_cand = torch.as_tensor(scorer.focus(cand)).detach().cpu().to(torch.float32)
        kept, rescued = erts_filter(cand, p, f_cand, class_keys(batch.y), self.phi)
        decision[cand] = int(Decision.DROPPED_LOW_FOCUS)
        decision[kept] = int(Decision.KEPT)
        decision[rescued] = int(Decision.RESCUED)
        self.base.floor(decision, batch, scorer, p)  # class_floor of the base, over the filter's result
        p = p.detach().cpu().to(torch.float32)
        focus = _nan(b)
        focus[cand] = f_cand
        combined = _nan(b)
        combined[cand] = (1.0 - p[cand]) * f_cand
        return _selection(b, decision, p_true=p, focus=focus, combined=combined)

    def __repr__(self) -> str:
        return (f"ERTSPolicy(name={self.name!r}, phi={self.phi}, cam_start={self.cam_start}, "
                f"focus={self.focus_name!r}, base={self.base!r})")


def _check_focus(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Expected focus to be a focus-score name (str), got {type(name).__name__}.")
    try:
        from ...explain import FOCUS_SCORES  # the registry lands with erts_kit.explain
    except ImportError:
        return name
    return check_choice("focus score", name, list(FOCUS_SCORES))
