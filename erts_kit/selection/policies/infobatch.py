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

Where the prunes happen (``prune_at``):

- ``"epoch"`` (default, as the InfoBatch code does): at the start of each epoch :meth:`plan_epoch`
  decides for every training sample at once (a generator seeded by ``(seed, epoch)``), and the training
  loop batches only the kept samples. An epoch has fewer, full batches, so it also saves the fixed cost
  of each optimizer step, which dominates on small models. Each step's loss is the scaled mean over its
  batch, so an epoch's summed gradient is, in expectation, the full epoch's.
- ``"batch"``: every batch is drawn from all samples and the pruned ones are masked out of it (draws
  seeded by ``(seed, epoch, step)``), the loss divided by the whole batch's weight, so each batch's
  expected gradient is the full batch's. Same number of optimizer steps as full data: it saves only the
  per-sample work. The loop also falls back to this under DDP and with a class-balanced sampler.

The epochs before any loss is cached are a warm-up (``warm_up``, default 1: the paper's initial scores
make its first epoch a full one too).

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
        prune_at: ``"epoch"`` (prune before batching: fewer steps) or ``"batch"`` (mask within each batch).

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
                 seed: int = 42, prune_at: str = "epoch") -> None:
        self.prune_ratio = float(check_range("prune_ratio", prune_ratio, 0.0, 1.0, high_inclusive=False))
        self.warm_up = check_int("warm_up", warm_up, minimum=1)
        if start_revision is not None:
            start_revision = check_int("start_revision", start_revision, minimum=0)
            if start_revision < self.warm_up:
                raise ValueError(f"Expected start_revision >= warm_up ({self.warm_up}), got {start_revision}: "
                                 "annealing cannot begin before warm-up ends; use None for no annealing.")
        self.start_revision = start_revision
        self.seed = check_int("seed", seed, minimum=0)
        self.prune_at = check_choice("prune_at", prune_at, ["epoch", "batch"])
        self.cache = ScoreCache()
        self._plan: tuple[int, BatchSelection, torch.Tensor] | None = None   # (epoch, selection, index -> row)
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
                "start_revision": self.start_revision, "seed": self.seed, "prune_at": self.prune_at}

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

    def plan_epoch(self, epoch: int, indices: torch.Tensor) -> BatchSelection | None:
        """Decide for every training sample at the start of ``epoch`` (``prune_at="epoch"``), else None.

        The training loop then batches only the kept samples; :meth:`select` returns this plan's decisions
        and scales for them. Pruned samples are never forwarded this epoch.

        Example:
            >>> p = InfoBatchPolicy(prune_ratio=0.5, warm_up=1, seed=0)
            >>> p.observe(0, torch.arange(6), None, torch.tensor([[4., 0.]] * 4 + [[0., 4.]] * 2), torch.zeros(6).long())
            >>> plan = p.plan_epoch(1, torch.arange(6))
            >>> plan.keep[4:].tolist(), bool(plan.keep[:4].all())   # the two high-loss samples are always kept
            ([True, True], False)
        """
        if self.prune_at != "epoch":
            return None
        idx = torch.as_tensor(indices).detach().cpu().long()
        sel = self._decide(epoch, idx, pick_generator(self.seed, epoch, 0), n=idx.numel())
        row_of = torch.full((int(idx.max()) + 1 if idx.numel() else 0,), -1, dtype=torch.long)
        row_of[idx] = torch.arange(idx.numel())
        self._plan = (epoch, sel, row_of)
        return sel

    def _planned(self, epoch: int, idx: torch.Tensor) -> BatchSelection | None:
        """This batch's rows of the epoch's plan (None when the epoch was not planned)."""
        if self._plan is None or self._plan[0] != epoch:
            return None
        _, plan, row_of = self._plan
        padded = torch.cat([row_of, torch.full((1,), -1, dtype=torch.long)])   # any index past the plan -> -1
        rows = padded[idx.clamp(max=len(row_of))]
        if bool((rows < 0).any()):
            raise RuntimeError(f"Batch samples {idx[rows < 0].tolist()[:5]} are outside epoch {epoch}'s plan: the "
                               "loop must batch only the samples plan_epoch was given.")
        sel = _selection(idx.numel(), plan.decision[rows], p_true=plan.p_true[rows])
        sel.scale = None if plan.scale is None else plan.scale[rows]
        return sel

    def _decide(self, epoch: int, idx: torch.Tensor, generator: torch.Generator, n: int) -> BatchSelection:
        """Decisions and loss scales for the samples ``idx`` (the module docstring's rules)."""
        flagged = self._flagged(epoch, idx)
        stage = self.stage(epoch)
        b = n
        if stage != "select":
            dec = torch.full((b,), int(Decision.WARMUP if stage == "warmup" else Decision.REVISION), dtype=torch.int8)
            dec[flagged] = int(Decision.DROPPED_LOW_FOCUS)
            return _selection(b, dec)
        loss = self.cache.get("loss", idx)
        low = torch.isfinite(loss) & (loss < self.threshold(epoch)) & ~flagged
        u = torch.rand(b, generator=generator)
        pruned = low & (u < self.prune_ratio)
        dec = torch.full((b,), int(Decision.KEPT), dtype=torch.int8)
        dec[pruned] = int(Decision.DROPPED_CONFIDENT)
        dec[flagged] = int(Decision.DROPPED_LOW_FOCUS)
        scale = torch.ones(b, dtype=torch.float32)
        scale[low & ~pruned] = 1.0 / (1.0 - self.prune_ratio)
        sel = _selection(b, dec, p_true=self.cache.get("p_true", idx))
        sel.scale = scale
        return sel

    def select(self, epoch: int, batch: BatchInfo, scorer: BatchScorer | None) -> BatchSelection:
        idx = batch.indices.detach().cpu()
        planned = self._planned(epoch, idx)
        if planned is not None:
            return planned
        return self._decide(epoch, idx, pick_generator(self.seed, epoch, batch.step), n=_batch_size(batch))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(prune_ratio={self.prune_ratio}, warm_up={self.warm_up}, "
                f"start_revision={self.start_revision}, prune_at={self.prune_at!r})")


class NoiseAwarePolicy(InfoBatchPolicy):
    """InfoBatch pruning plus a permanent drop of the samples the AUM flags as corrupted (module docstring).

    Args:
        drop_share: largest share of the seen samples flagged, in [0, 1) (the lowest AUMs; only negative ones).
        signal: ``'aum'`` (mean margin over the epochs trained) or ``'margin'`` (the last margin).
        prune_ratio, warm_up, start_revision, seed, prune_at: as :class:`InfoBatchPolicy`.

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
                 start_revision: int | None = None, seed: int = 42, prune_at: str = "epoch") -> None:
        super().__init__(prune_ratio, warm_up, start_revision, seed, prune_at)
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
                f"warm_up={self.warm_up}, start_revision={self.start_revision}, prune_at={self.prune_at!r})")
