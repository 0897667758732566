"""Per-sample scores cached from the training forward, keyed by dataset index, saved with the run.

:class:`ScoreCache` is what the cached policies (:mod:`.infobatch`, :mod:`.cached_erts`) decide from:
for each dataset index, the last training loss, p_true and margin seen when the sample was trained
(or scored), the running sum of its margins (for the area under the margin, AUM: Pleiss et al.,
NeurIPS 2020), its last Grad-CAM focus, and the epochs it was last trained and scored. Nothing here
costs a pass: the loop hands the training forward's logits to ``policy.observe``.

The cache is dense (one slot per dataset index up to the largest seen) and holds only tensors, so it
goes into ``last.pt`` as the policy's ``state_dict`` and comes back on resume.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["CachedScores", "ScoreCache", "margins"]

_FLOAT_FIELDS = ("loss", "p_true", "margin", "margin_sum", "focus")
_INT_FIELDS = ("margin_count", "trained_epoch", "scored_epoch")
_FILL = {"loss": float("nan"), "p_true": float("nan"), "margin": float("nan"), "focus": float("nan"),
         "margin_sum": 0.0, "margin_count": 0, "trained_epoch": -1, "scored_epoch": -1}


def margins(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B,) margin of each sample: logit of its label minus the largest other logit (Pleiss et al. 2020).

    Multi-hot targets (B, C): the mean over classes of ``logit`` where the label is 1 and ``-logit``
    where it is 0 (the margin of each binary decision).

    Example:
        >>> margins(torch.tensor([[2.0, 0.5, 1.0], [0.0, 3.0, 1.0]]), torch.tensor([0, 0])).tolist()
        [1.0, -3.0]
    """
    logits = logits.detach().float()
    if targets.dim() == 2:
        return torch.where(targets > 0.5, logits, -logits).mean(dim=1)
    y = targets.long().view(-1, 1)
    own = logits.gather(1, y).squeeze(1)
    other = logits.scatter(1, y, float("-inf")).max(dim=1).values
    return own - other


def _p_true_and_loss(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits = logits.detach().float()
    if targets.dim() == 2:
        s = torch.sigmoid(logits)
        p = torch.where(targets > 0.5, s, 1.0 - s).mean(dim=1)
        return p, F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").mean(1)
    y = targets.long()
    return torch.softmax(logits, 1).gather(1, y.view(-1, 1)).squeeze(1), F.cross_entropy(logits, y, reduction="none")


class ScoreCache:
    """Dense per-dataset-index score store; NaN (or -1 for epochs) where a sample was never seen.

    Example:
        >>> c = ScoreCache()
        >>> c.record_training(2, torch.tensor([7, 3]), torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        >>> c.get("trained_epoch", torch.tensor([3, 7, 5])).tolist(), round(float(c.get("margin", [3])[0]), 2)
        ([2, 2, -1], -1.0)
        >>> d = ScoreCache(); d.load_state_dict(c.state_dict()); d.get("aum", [7]).tolist()
        [2.0]
    """

    def __init__(self) -> None:
        self._t: dict[str, torch.Tensor] = {k: torch.zeros(0) for k in _FLOAT_FIELDS}
        self._t.update({k: torch.zeros(0, dtype=torch.int64) for k in _INT_FIELDS})

    def __len__(self) -> int:
        return int(self._t["loss"].numel())

    def _grow(self, n: int) -> None:
        old = len(self)
        if n <= old:
            return
        size = max(n, 2 * old)
        for k, t in self._t.items():
            new = torch.full((size,), _FILL[k], dtype=t.dtype)
            new[:old] = t
            self._t[k] = new

    @staticmethod
    def _idx(indices: Any) -> torch.Tensor:
        idx = torch.as_tensor(indices, dtype=torch.int64).detach().cpu().view(-1)
        if idx.numel() and int(idx.min()) < 0:
            raise ValueError(f"Expected non-negative dataset indices, got {idx.min().item()}.")
        return idx

    def get(self, field: str, indices: Any) -> torch.Tensor:
        """Values of ``field`` (one of the stored fields, or ``'aum'``) for dataset ``indices``; unseen: NaN / -1 / 0.

        Reading never changes the cache (an index beyond the largest seen reads as unseen).
        """
        idx = self._idx(indices)
        if field == "aum":
            n = self.get("margin_count", idx)
            return torch.where(n > 0, self.get("margin_sum", idx) / n.clamp_min(1),
                               torch.full(n.shape, float("nan"), dtype=torch.float32))
        if field not in self._t:
            raise ValueError(f"Unknown cache field {field!r}: expected one of {', '.join([*self._t, 'aum'])}.")
        t = self._t[field]
        inside = idx < t.numel()
        out = torch.full(idx.shape, _FILL[field], dtype=t.dtype)
        out[inside] = t[idx[inside]]
        return out

    def record_training(self, epoch: int, indices: Any, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """Store loss, p_true and margin of the training forward (and add the margin to the AUM sum)."""
        idx = self._idx(indices)
        if not idx.numel():
            return
        self._grow(int(idx.max()) + 1)
        p, loss = _p_true_and_loss(logits, targets)
        m = margins(logits, targets)
        self._t["loss"][idx], self._t["p_true"][idx], self._t["margin"][idx] = loss, p, m
        self._t["margin_sum"][idx] += m
        self._t["margin_count"][idx] += 1
        self._t["trained_epoch"][idx] = int(epoch)

    def record_scores(self, epoch: int, indices: Any, p_true: torch.Tensor,
                      focus: torch.Tensor | None = None) -> None:
        """Store p_true (and focus) from a scoring pass of ``epoch`` (they replace the cached ones)."""
        idx = self._idx(indices)
        if not idx.numel():
            return
        self._grow(int(idx.max()) + 1)
        self._t["p_true"][idx] = torch.as_tensor(p_true, dtype=torch.float32).cpu()
        if focus is not None:
            self._t["focus"][idx] = torch.as_tensor(focus, dtype=torch.float32).cpu()
        self._t["scored_epoch"][idx] = int(epoch)

    def seen_mean(self, field: str = "loss") -> float:
        """Mean of ``field`` over the samples that have a value (NaN when none)."""
        v = self._t[field]
        v = v[torch.isfinite(v)]
        return float(v.mean()) if v.numel() else float("nan")

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors only (loads with ``torch.load(weights_only=True)``)."""
        return {k: t.clone() for k, t in self._t.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict`; a missing or mis-sized field is refused."""
        names = set(_FLOAT_FIELDS) | set(_INT_FIELDS)
        if set(state) != names or len({int(torch.as_tensor(v).numel()) for v in state.values()}) > 1:
            raise ValueError(f"Expected a ScoreCache state with equal-length fields {sorted(names)}, got "
                             f"{ {k: tuple(torch.as_tensor(v).shape) for k, v in state.items()} }.")
        self._t = {k: torch.as_tensor(state[k]).clone() for k in (*_FLOAT_FIELDS, *_INT_FIELDS)}


class CachedScores:
    """Mixin of the policies that learn from the training forward: ``observe`` fills ``self.cache``.

    The loop calls :meth:`observe` after each step with the kept samples' losses and logits; the cache
    (tensors only) is what :meth:`state_dict` saves in ``last.pt``, so it survives a resume.

    Example:
        >>> class P(CachedScores):
        ...     def __init__(self): self.cache = ScoreCache()
        >>> p = P(); p.observe(0, torch.tensor([4]), None, torch.tensor([[3.0, 0.0]]), torch.tensor([0]))
        >>> q = P(); q.load_state_dict(p.state_dict()); q.cache.get("trained_epoch", [4]).tolist()
        [0]
    """

    cache: ScoreCache

    def observe(self, epoch: int, indices: torch.Tensor, losses: torch.Tensor | None, logits: torch.Tensor,
                targets: torch.Tensor) -> None:
        """Cache loss, p_true, margin and AUM of the trained samples (training forward; keyed by dataset index)."""
        self.cache.record_training(epoch, indices, logits, targets)

    def state_dict(self) -> dict[str, Any]:
        """The score cache (tensors only: saved in ``last.pt``)."""
        return {"cache": self.cache.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the score cache (on resume)."""
        self.cache.load_state_dict(state["cache"])
