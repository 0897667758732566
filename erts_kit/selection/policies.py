"""Selection policies: full data, the three PDD variants and their ERTS versions.

Each policy answers, per batch, which samples get the training forward + backward, following
DESIGN.md "The method, as published" (PDD: arXiv 2505.22342; ERTS: arXiv 2606.12252). The rules
themselves live in :mod:`erts_kit.selection.rules`; policies add the epoch schedule, the seeds and
the per-sample :class:`~erts_kit.selection.base.Decision`, and talk to the model only through the
:class:`~erts_kit.selection.base.BatchScorer` protocol.

Epochs are counted from 0, as the training loop does:

- warm-up: epochs ``0 .. warm_up - 1`` (with the default ``warm_up=5``: epochs 0-4, "the first 5
  epochs") use every sample, decision WARMUP, no scoring pass;
- revision: every epoch ``>= start_revision`` (``None``: never) uses every sample, decision REVISION;
- PDD selection: every other epoch;
- ERTS focus filter: from epoch ``warm_up + cam_start`` on (defaults: epoch 8, the 9th); between
  warm-up and that epoch an ERTS policy behaves exactly like its PDD base.

Random picks (SMRD, SRD) draw from a generator seeded by ``(seed, epoch, step)``, so a run gives
the same picks when repeated and when resumed from a checkpoint at the same step.

Example:
    >>> list_policies()
    ['full', 'dbpd', 'smrd', 'srd', 'xai_dbpd', 'xai_smrd', 'xai_srd']
    >>> make_policy("xai_dbpd", tau=0.3, phi=0.7)
    ERTSPolicy(name='xai_dbpd', phi=0.7, cam_start=3, focus='topk_mean', base=DBPDPolicy(tau=0.3, warm_up=5, start_revision=None))
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import check_choice, check_int, check_range
from .base import KEPT_DECISIONS, BatchInfo, BatchScorer, BatchSelection, Decision
from .rules import dbpd_candidates, erts_filter, smrd_pick, srd_count

__all__ = [
    "PAPER_DEFAULTS",
    "DBPDPolicy",
    "ERTSPolicy",
    "FullPolicy",
    "SMRDPolicy",
    "SRDPolicy",
    "class_keys",
    "list_policies",
    "make_policy",
    "paper_policy",
    "pick_generator",
]

# Reference settings of the ERTS paper and its code (DESIGN.md). No revision value is published.
PAPER_DEFAULTS: dict[str, Any] = {"tau": 0.3, "gamma": 0.99, "phi": 0.7, "cam_start": 3, "warm_up": 5,
                                  "start_revision": None, "seed": 42, "focus": "topk_mean"}


# --------------------------------------------------------------------------------------------
# helpers
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


def _pred_correct(scorer: BatchScorer) -> torch.Tensor:
    fn = getattr(scorer, "pred_correct", None)
    if fn is None:
        raise TypeError(f"tau == 0 ('keep the misclassified') needs scorer.pred_correct(), which "
                        f"{type(scorer).__name__} lacks: use ModelBatchScorer or a tau > 0.")
    return fn()


# --------------------------------------------------------------------------------------------
# policies
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


class _PDDPolicy:
    """Shared schedule of the PDD variants: warm-up, revision, then :meth:`candidates` each batch."""

    name = "pdd"
    scores = True  # whether candidates() needs the scoring pass

    def __init__(self, warm_up: int = 5, start_revision: int | None = None, seed: int = 42) -> None:
        self.warm_up = check_int("warm_up", warm_up, minimum=0)
        if start_revision is not None:
            start_revision = check_int("start_revision", start_revision, minimum=0)
            if start_revision < self.warm_up:
                raise ValueError(f"Expected start_revision >= warm_up ({self.warm_up}), got {start_revision}: "
                                 f"revision cannot begin before warm-up ends; use None for no revision.")
        self.start_revision = start_revision
        self.seed = check_int("seed", seed, minimum=0)

    def stage(self, epoch: int) -> str:
        """``'warmup'``, ``'revision'`` or ``'select'`` for a 0-based epoch index."""
        epoch = check_int("epoch", epoch, minimum=0)
        if epoch < self.warm_up:
            return "warmup"
        if self.start_revision is not None and epoch >= self.start_revision:
            return "revision"
        return "select"

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
        return _selection(b, decision, p_true=p)

    def params(self) -> dict[str, Any]:
        """The policy's settings (for run manifests); ``make_policy(**params)`` rebuilds it."""
        return {"name": self.name, **self._own_params(), "warm_up": self.warm_up,
                "start_revision": self.start_revision, "seed": self.seed}

    def _own_params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        own = ", ".join(f"{k}={v!r}" for k, v in self._own_params().items())
        return f"{type(self).__name__}({own}, warm_up={self.warm_up}, start_revision={self.start_revision})"


class DBPDPolicy(_PDDPolicy):
    """Difficulty-based PDD: keep samples with ``p_true < tau`` (``tau == 0``: the misclassified).

    Args:
        tau: threshold in [0, 1] (paper: 0.3).
        warm_up: number of warm-up epochs (epochs 0..warm_up-1 use every sample).
        start_revision: first revision epoch, or None.
        seed: unused by DBPD (deterministic); kept for a uniform signature.
    """

    name = "dbpd"

    def __init__(self, tau: float = 0.3, warm_up: int = 5, start_revision: int | None = None, seed: int = 42) -> None:
        super().__init__(warm_up, start_revision, seed)
        self.tau = float(check_range("tau", tau, 0.0, 1.0))

    def _own_params(self) -> dict[str, Any]:
        return {"tau": self.tau}

    def candidates(self, epoch, batch, scorer):
        p = scorer.p_true()
        pc = _pred_correct(scorer) if self.tau == 0 else None
        return dbpd_candidates(p, self.tau, pc), p


class SMRDPolicy(DBPDPolicy):
    """Schedule-matched random PDD: as many samples as DBPD would keep, drawn at random.

    Needs the scoring pass (to know DBPD's count). Picks are seeded by ``(seed, epoch, batch.step)``.
    """

    name = "smrd"

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

    def __init__(self, gamma: float = 0.99, warm_up: int = 5, start_revision: int | None = None, seed: int = 42) -> None:
        super().__init__(warm_up, start_revision, seed)
        self.gamma = float(check_range("gamma", gamma, 0.0, 1.0, low_inclusive=False))

    def _own_params(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    def candidates(self, epoch, batch, scorer):
        b = _batch_size(batch)
        n = srd_count(epoch, b, self.gamma)
        return smrd_pick(n, b, pick_generator(self.seed, epoch, batch.step)), None


class ERTSPolicy:
    """ERTS: a PDD policy whose candidates pass an explanation-quality (Grad-CAM focus) filter.

    From epoch ``base.warm_up + cam_start`` on, for the candidates PDD picks: ``combined =
    (1 - p_true) * focus``, keep the top ``max(1, int(phi * n))``, then rescue the best candidate of
    every class left without one (:func:`~erts_kit.selection.rules.erts_filter`). Decisions:
    DROPPED_CONFIDENT (not a PDD candidate), KEPT, DROPPED_LOW_FOCUS, RESCUED. Before that epoch,
    and in warm-up/revision epochs, it is exactly ``base``.

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
            return _selection(b, decision, p_true=p)
        if p is None:
            p = scorer.p_true()
        f_cand = torch.as_tensor(scorer.focus(cand)).detach().cpu().to(torch.float32)
        kept, rescued = erts_filter(cand, p, f_cand, class_keys(batch.y), self.phi)
        decision[cand] = int(Decision.DROPPED_LOW_FOCUS)
        decision[kept] = int(Decision.KEPT)
        decision[rescued] = int(Decision.RESCUED)
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
        from ..explain import FOCUS_SCORES  # the registry lands with erts_kit.explain
    except ImportError:
        return name
    return check_choice("focus score", name, list(FOCUS_SCORES))


# --------------------------------------------------------------------------------------------
# registry
_PDD = {"dbpd": DBPDPolicy, "smrd": SMRDPolicy, "srd": SRDPolicy}
_NAMES = ["full", "dbpd", "smrd", "srd", "xai_dbpd", "xai_smrd", "xai_srd"]
_COMMON = ("warm_up", "start_revision", "seed")  # every policy takes a seed, so a loop can always pass one
_PARAMS = {
    "full": ("seed",),
    "dbpd": ("tau", *_COMMON),
    "smrd": ("tau", *_COMMON),
    "srd": ("gamma", *_COMMON),
}
_ERTS_PARAMS = ("phi", "cam_start", "focus")
for _n in ("dbpd", "smrd", "srd"):
    _PARAMS[f"xai_{_n}"] = (*_PARAMS[_n], *_ERTS_PARAMS)


def list_policies() -> list[str]:
    """Names :func:`make_policy` accepts.

    Example:
        >>> "xai_smrd" in list_policies()
        True
    """
    return list(_NAMES)


def _normalise(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Expected a policy name (str), got {type(name).__name__}: one of {', '.join(_NAMES)}.")
    key = name.strip().lower().replace("-", "_")
    key = {"erts_dbpd": "xai_dbpd", "erts_smrd": "xai_smrd", "erts_srd": "xai_srd"}.get(key, key)
    return check_choice("policy", key, _NAMES)


def make_policy(name: str, **params: Any):
    """Build a policy by name, validating its parameters.

    Names: ``full, dbpd, smrd, srd, xai_dbpd, xai_smrd, xai_srd`` (case and ``-``/``_`` ignored;
    ``erts_*`` are aliases of ``xai_*``). Parameters and ranges: ``tau`` in [0, 1], ``gamma`` in (0, 1],
    ``phi`` in (0, 1], ``warm_up`` >= 0, ``start_revision`` None or >= warm_up, ``cam_start`` >= 0,
    ``seed`` >= 0, ``focus`` a registered focus score. Unset ones take :data:`PAPER_DEFAULTS`.

    Raises:
        ValueError: unknown name (lists the valid ones) or a value out of range.
        TypeError: a parameter the policy does not take (lists the ones it takes).

    Example:
        >>> make_policy("smrd", tau=0.5, seed=1)
        SMRDPolicy(tau=0.5, warm_up=5, start_revision=None)
        >>> make_policy("srd", phi=0.7)
        Traceback (most recent call last):
        ...
        TypeError: Policy 'srd' takes no parameter 'phi': it takes gamma, warm_up, start_revision, seed.
    """
    key = _normalise(name)
    params.pop("name", None)  # so make_policy(**policy.params()) round-trips
    allowed = _PARAMS[key]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        takes = ", ".join(allowed) if allowed else "nothing"
        raise TypeError(f"Policy {key!r} takes no parameter {unknown[0]!r}: it takes {takes}.")
    if key == "full":
        return FullPolicy(**params)
    base_name = key.removeprefix("xai_")
    base_kw = {k: v for k, v in params.items() if k not in _ERTS_PARAMS}
    base = _PDD[base_name](**base_kw)
    if key == base_name:
        return base
    erts_kw = {k: v for k, v in params.items() if k in _ERTS_PARAMS}
    return ERTSPolicy(base, **erts_kw)


def paper_policy(name: str, **overrides: Any):
    """A policy with the reference settings of the ERTS paper (:data:`PAPER_DEFAULTS`), optionally overridden.

    Example:
        >>> p = paper_policy("xai_srd")
        >>> p.phi, p.cam_start, p.base.gamma, p.warm_up, p.filter_start
        (0.7, 3, 0.99, 5, 8)
    """
    key = _normalise(name)
    params = {k: v for k, v in PAPER_DEFAULTS.items() if k in _PARAMS[key]}
    params.update(overrides)
    return make_policy(key, **params)
