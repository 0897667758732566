"""Selection without a scoring pass: :class:`InfoBatchPolicy` and its :class:`NoiseAwarePolicy` variant.

InfoBatch (Qin et al., "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data Pruning",
ICLR 2024), as the kit does it:

- each sample's loss is cached from the *training* forward when it is trained (no extra pass);
- each epoch, the samples whose cached loss is below the mean cached loss ("well learned") are
  pruned at random, each with probability ``prune_ratio`` (r); unseen samples are always kept;
- the kept well-learned samples get their loss scaled by ``1 / (1 - r)`` and the step's loss is
  divided by the weight of the whole batch, pruned samples included, so the expected gradient of a
  batch equals the full batch's (:func:`erts_kit.training.step.train_step`, ``scale``);
- annealing: from ``start_revision`` on (the paper: the last 12.5% of the epochs), every sample.

Departures from the InfoBatch code, on purpose: the kit draws its prunes per batch from a generator
seeded by ``(seed, epoch, step)`` instead of patching the DataLoader (so no scheduler breaks and a
resumed run draws the same prunes); the epochs before any loss is cached are a warm-up (``warm_up``,
default 1: the paper's initial scores make its first epoch a full one too).

:class:`NoiseAwarePolicy` adds what the detector benchmark (:mod:`erts_kit.results.detectors`)
found: the area under the margin (AUM) ranks corrupted samples above clean ones, while the ERTS
combined score ranks them below. From ``warm_up`` on it drops, every epoch (annealing included),
the samples flagged as likely corrupted: the ``drop_share`` lowest AUMs among the seen samples, of
those whose AUM is negative (their label's logit was on average below another class's). Flagged
samples are not trained again, so their AUM is frozen: the flag is permanent. Their decision is
``DROPPED_LOW_FOCUS`` (the kit's "dropped by the quality filter"), so the filter statistics of
:func:`erts_kit.results.filter_precision_recall` measure it against the ground truth.
"""
from __future__ import annotations

from typing import Any

import torch

from ..._validation import check_choice, check_int, check_range
from ..base import BatchInfo, BatchScorer, BatchSelection, Decision
from .cache import CachedScores, ScoreCache
from .common import _batch_size, _selection, pick_generator, schedule_stage

__all__ = ["InfoBatchPolicy", "NoiseAwarePolicy"]


class InfoBatchPolicy(CachedScores):
    """InfoBatch-style pruning of well-learned samples from cached training losses (module docstring).

    Args:
        prune_ratio: probability r in [0, 1) that a well-learned sample is pruned (paper: 0.5).
        warm_up: first epochs on every sample (>= 1: the cache fills from the training forward).
        start_revision: first annealing epoch (every sample from then on), or None.
        seed: seeds the random prunes (with the epoch and step).

    Example:
        >>> p = InfoBatchPolicy(prune_ratio=0.5, warm_up=1)
        >>> p.observe(0, torch.arange(4), None, torch.tensor([[3., 0.], [3., 0.], [0., 3.], [0., 3.]]),
        ...           torch.tensor([0, 0, 0, 0]))
        >>> b = BatchInfo(x=torch.zeros(4, 1, 8), y=torch.zeros(4, dtype=torch.long), indices=torch.arange(4), step=0)
        >>> s = p.select(1, b, scorer=None)
        >>> s.keep[2:].tolist(), sorted(set(s.scale[:2][s.keep[:2]].tolist()))  # high loss kept; kept easy ones x2
        ([True, True], [2.0])
    """

    name = "infobatch"

    def __init__(self, prune_ratio: float = 0.5, warm_up: int = 1, start_revision: int | None = None,
                 seed: int = 42) -> None:
        self.prune_ratio = float(check_range("prune_ratio", prune_ratio, 0.0, 1.0, high_inclusive=False))
        self.warm_up = check_int("warm_up", warm_up, minimum=1)
        if start_revision is not None:
            start_revision = check_int("start_revision", start_revision, minimum=0)
            if start_revision < self.warm_up:
                raise ValueError(f"Expected start_revision >= warm_up ({self.warm_up}), got {start_revision}: "
                                 "annealing cannot begin before warm-up ends; use None for no annealing.")
        self.start_revision = start_revision
        self.seed = check_int("seed", seed, minimum=0)
        self.cache = ScoreCache()
        self._threshold: tuple[int, float] = (-1, float("nan"))   # (epoch, mean cached loss at its start)

    # -- schedule ------------------------------------------------------------------------------
    def stage(self, epoch: int) -> str:
        """``'warmup'``, ``'revision'`` (annealing) or ``'select'`` for a 0-based epoch index."""
        return schedule_stage(epoch, self.warm_up, self.start_revision)

    def needs_scoring(self, epoch: int) -> bool:
        """Never: decisions come from the cache."""
        return False

    def needs_focus(self, epoch: int) -> bool:
        """Never."""
        return False

    def params(self) -> dict[str, Any]:
        """The policy's settings; ``make_policy(**params)`` rebuilds it."""
        return {"name": self.name, "prune_ratio": self.prune_ratio, "warm_up": self.warm_up,
                "start_revision": self.start_revision, "seed": self.seed}

    # -- the cache -----------------------------------------------------------------------------
    def threshold(self, epoch: int) -> float:
        """Mean cached loss at the start of ``epoch`` (fixed for the whole epoch)."""
        if self._threshold[0] != epoch:
            self._threshold = (epoch, self.cache.seen_mean("loss"))
        return self._threshold[1]

    def state_dict(self) -> dict[str, Any]:
        """The cache and the epoch's threshold (tensors only: saved in ``last.pt``)."""
        return {**super().state_dict(),
                "threshold": torch.tensor([float(self._threshold[0]), self._threshold[1]], dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (on resume)."""
        super().load_state_dict(state)
        t = torch.as_tensor(state["threshold"], dtype=torch.float64)
        self._threshold = (int(t[0]), float(t[1]))

    # -- decisions -----------------------------------------------------------------------------
    def _flagged(self, epoch: int, idx: torch.Tensor) -> torch.Tensor:
        return torch.zeros(idx.numel(), dtype=torch.bool)

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer | None) -> BatchSelection:
        b = _batch_size(batch)
        idx = batch.indices.detach().cpu()
        flagged = self._flagged(epoch, idx)
        stage = self.stage(epoch)
        if stage != "select":
            dec = torch.full((b,), int(Decision.WARMUP if stage == "warmup" else Decision.REVISION), dtype=torch.int8)
            dec[flagged] = int(Decision.DROPPED_LOW_FOCUS)
            return _selection(b, dec)
        loss = self.cache.get("loss", idx)
        low = torch.isfinite(loss) & (loss < self.threshold(epoch)) & ~flagged
        u = torch.rand(b, generator=pick_generator(self.seed, epoch, batch.step))
        pruned = low & (u < self.prune_ratio)
        dec = torch.full((b,), int(Decision.KEPT), dtype=torch.int8)
        dec[pruned] = int(Decision.DROPPED_CONFIDENT)
        dec[flagged] = int(Decision.DROPPED_LOW_FOCUS)
        scale = torch.ones(b, dtype=torch.float32)
        scale[low & ~pruned] = 1.0 / (1.0 - self.prune_ratio)
        sel = _selection(b, dec, p_true=self.cache.get("p_true", idx))
        sel.scale = scale
        return sel

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(prune_ratio={self.prune_ratio}, warm_up={self.warm_up}, "
                f"start_revision={self.start_revision})")


class NoiseAwarePolicy(InfoBatchPolicy):
    """InfoBatch pruning plus a permanent drop of the samples the AUM flags as corrupted (module docstring).

    Args:
        drop_share: largest share of the seen samples flagged, in [0, 1) (the lowest AUMs; only negative ones).
        signal: ``'aum'`` (mean margin over the epochs trained) or ``'margin'`` (the last margin).
        prune_ratio, warm_up, start_revision, seed: as :class:`InfoBatchPolicy`.

    Example:
        >>> p = NoiseAwarePolicy(drop_share=0.25, warm_up=1)
        >>> p.observe(0, torch.arange(4), None, torch.tensor([[3., 0.], [2., 0.], [1., 0.], [0., 3.]]),
        ...           torch.tensor([0, 0, 0, 0]))
        >>> b = BatchInfo(x=torch.zeros(4, 1, 8), y=torch.zeros(4, dtype=torch.long), indices=torch.arange(4), step=0)
        >>> p.select(1, b, scorer=None).decision[3].item() == Decision.DROPPED_LOW_FOCUS
        True
    """

    name = "noise_aware"
    quality_filter = True   # its DROPPED_LOW_FOCUS decisions are a filter's: the grid measures them

    def __init__(self, drop_share: float = 0.1, signal: str = "aum", prune_ratio: float = 0.5, warm_up: int = 2,
                 start_revision: int | None = None, seed: int = 42) -> None:
        super().__init__(prune_ratio, warm_up, start_revision, seed)
        self.drop_share = float(check_range("drop_share", drop_share, 0.0, 1.0, high_inclusive=False))
        self.signal = check_choice("signal", signal, ["aum", "margin"])
        self._cut: tuple[int, float] = (-1, float("nan"))

    def params(self) -> dict[str, Any]:
        return {**super().params(), "drop_share": self.drop_share, "signal": self.signal}

    def _cutoff(self, epoch: int) -> float:
        """The flag threshold of ``epoch``: the ``drop_share`` quantile of the seen samples' signal, at most 0."""
        if self._cut[0] != epoch:
            n = len(self.cache)
            v = self.cache.get(self.signal, torch.arange(n)) if n else torch.zeros(0)
            v = v[torch.isfinite(v)]
            q = float(torch.quantile(v.double(), self.drop_share)) if v.numel() and self.drop_share > 0 else float("-inf")
            self._cut = (epoch, min(q, 0.0))
        return self._cut[1]

    def _flagged(self, epoch: int, idx: torch.Tensor) -> torch.Tensor:
        if epoch < self.warm_up or self.drop_share == 0:
            return torch.zeros(idx.numel(), dtype=torch.bool)
        v = self.cache.get(self.signal, idx)
        return torch.isfinite(v) & (v < self._cutoff(epoch))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cut": torch.tensor([float(self._cut[0]), self._cut[1]], dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        t = torch.as_tensor(state["cut"], dtype=torch.float64)
        self._cut = (int(t[0]), float(t[1]))

    def __repr__(self) -> str:
        return (f"NoiseAwarePolicy(drop_share={self.drop_share}, signal={self.signal!r}, prune_ratio={self.prune_ratio}, "
                f"warm_up={self.warm_up}, start_revision={self.start_revision})")
