"""The selection rules of PDD and ERTS as pure functions: scores in, kept batch positions out.

Everything here works on one batch and knows nothing of models, devices or epochs' history, so
the training loop, the widgets and the tests all call the same code. Rules follow DESIGN.md
"The method, as published" (PDD: arXiv 2505.22342; ERTS: arXiv 2606.12252):

- :func:`dbpd_candidates`: difficulty-based PDD, keep ``p_true < tau`` (``tau == 0``: the misclassified).
- :func:`dbpd_rescue`: the reference code's DBPD rescue, one sample for each class without a candidate.
- :func:`smrd_pick`: schedule-matched random PDD, a seeded random subset of a given size.
- :func:`srd_count`: scalar random PDD, ``int(gamma ** epoch * batch_size)`` samples.
- :func:`erts_filter`: the ERTS focus filter with class-aware rescue.

All index tensors returned are int64 batch positions (0..B-1), sorted ascending, on the CPU.

Ties: wherever a rule ranks scores (the ERTS filter, its rescue), equal scores are ordered by batch
position and the earlier position wins; NaN ranks last (:func:`rank_desc`). The reference code uses
``torch.topk``, whose order among equal values is not specified.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validation import check_int, check_range

__all__ = ["dbpd_candidates", "dbpd_rescue", "erts_filter", "n_keep_erts", "rank_desc", "smrd_pick", "srd_count"]


def _as_cpu_1d(name: str, t: torch.Tensor | np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = torch.as_tensor(t).detach().cpu()
    if t.dim() != 1:
        raise ValueError(f"Expected {name} of shape (B,), got {tuple(t.shape)}: pass one value per sample.")
    return t.to(dtype) if dtype is not None else t


def dbpd_candidates(p_true: torch.Tensor, tau: float = 0.3,
                    pred_correct: torch.Tensor | None = None) -> torch.Tensor:
    """Difficulty-based PDD: the batch positions whose true-class probability is below ``tau``.

    ``tau == 0`` is the published "keep the misclassified" setting. ``p_true`` alone cannot say
    whether a sample is misclassified (with C > 2 classes the argmax may hold less than 0.5), so
    at ``tau == 0`` the caller passes ``pred_correct`` (argmax of the logits == true class) and the
    rule keeps ``~pred_correct``. For ``tau > 0`` ``pred_correct`` is ignored.

    Args:
        p_true: (B,) softmax probability of the true class.
        tau: threshold in [0, 1]; strict comparison ``p_true < tau``.
        pred_correct: (B,) bool, needed only when ``tau == 0``.

    Returns:
        (n,) int64 sorted batch positions of the candidates (possibly empty).

    Raises:
        ValueError: ``tau`` outside [0, 1], wrong shapes, or ``tau == 0`` without ``pred_correct``.

    Example:
        >>> dbpd_candidates(torch.tensor([0.1, 0.5, 0.29, 0.3]), tau=0.3).tolist()
        [0, 2]
        >>> dbpd_candidates(torch.tensor([0.4, 0.9]), tau=0.0,
        ...                 pred_correct=torch.tensor([False, True])).tolist()
        [0]
    """
    check_range("tau", tau, 0.0, 1.0)
    p = _as_cpu_1d("p_true", p_true, torch.float32)
    if tau == 0:
        if pred_correct is None:
            raise ValueError("tau == 0 means 'keep the misclassified', which p_true alone cannot decide: "
                             "pass pred_correct=(logits.argmax(1) == y), or use a tau > 0.")
        ok = _as_cpu_1d("pred_correct", pred_correct, torch.bool)
        if ok.shape != p.shape:
            raise ValueError(f"Expected pred_correct of shape {tuple(p.shape)}, got {tuple(ok.shape)}.")
        mask = ~ok
    else:
        mask = p < float(tau)
    return torch.nonzero(mask, as_tuple=False).flatten().to(torch.int64)


def dbpd_rescue(candidates: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The reference code's DBPD rescue: for each class in the batch without a candidate, its first sample.

    The reference's DBPD keeps, besides its candidates, the earliest batch position of every class
    that is present in the batch but has no candidate (so every class of the batch gets at least one
    gradient), and only when the batch has at least one candidate (a batch without any is skipped
    whole). The kit's DBPD does this only with ``rescue=True`` (``fidelity="reference"`` for ``dbpd``).
    It differs from the ERTS rescue (:func:`erts_filter`), which restores the best-scoring *candidate*
    of a class the focus filter emptied.

    Args:
        candidates: (n,) int64 batch positions DBPD keeps.
        labels: (B,) int class ids of the whole batch (multi-label: one class per sample,
            :func:`erts_kit.selection.policies.common.class_keys`).

    Returns:
        (r,) int64 sorted batch positions added by the rescue (disjoint from ``candidates``; empty when
        there is no candidate).

    Raises:
        ValueError: wrong shapes or a candidate outside [0, B-1].

    Example:
        >>> dbpd_rescue(torch.tensor([1]), torch.tensor([0, 0, 1, 2, 2])).tolist()   # classes 1, 2 had none
        [2, 3]
        >>> dbpd_rescue(torch.tensor([], dtype=torch.int64), torch.tensor([0, 1])).tolist()  # nothing to train on
        []
    """
    cand = _as_cpu_1d("candidates", candidates, torch.int64)
    y = _as_cpu_1d("labels", labels, torch.int64)
    if len(cand) == 0:
        return torch.zeros(0, dtype=torch.int64)
    if int(cand.min()) < 0 or int(cand.max()) >= len(y):
        raise ValueError(f"Expected candidate positions in [0, {len(y) - 1}], got range "
                         f"[{int(cand.min())}, {int(cand.max())}].")
    has_candidate = set(y[cand].tolist())
    first_of_class: dict[int, int] = {}
    for pos, cls in enumerate(y.tolist()):
        first_of_class.setdefault(cls, pos)
    added = sorted(pos for cls, pos in first_of_class.items() if cls not in has_candidate)
    return torch.tensor(added, dtype=torch.int64)


def smrd_pick(n_keep: int, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Schedule-matched random PDD: ``n_keep`` distinct random positions out of ``batch_size``.

    Args:
        n_keep: how many to keep (clipped to ``batch_size``).
        batch_size: B.
        generator: a seeded CPU ``torch.Generator``; the same seed gives the same pick.

    Returns:
        (min(n_keep, B),) int64 sorted batch positions.

    Example:
        >>> smrd_pick(2, 5, torch.Generator().manual_seed(0)).tolist() == \\
        ...     smrd_pick(2, 5, torch.Generator().manual_seed(0)).tolist()
        True
        >>> len(smrd_pick(9, 3))
        3
    """
    n_keep = check_int("n_keep", n_keep, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=0)
    perm = torch.randperm(batch_size, generator=generator)
    return torch.sort(perm[:min(n_keep, batch_size)]).values.to(torch.int64)


def srd_count(epoch: int, batch_size: int, gamma: float = 0.99) -> int:
    """Scalar random PDD: how many samples of a batch to keep, ``int(gamma ** epoch * batch_size)``.

    ``epoch`` is the 0-based epoch index as the training loop counts it (warm-up included), as in
    the published formula. With gamma = 0.99 and B = 32 the count reaches 0 after epoch 344.

    Example:
        >>> srd_count(0, 32), srd_count(10, 32), srd_count(50, 32)
        (32, 28, 19)
    """
    epoch = check_int("epoch", epoch, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=0)
    check_range("gamma", gamma, 0.0, 1.0, low_inclusive=False)
    return int(float(gamma) ** epoch * batch_size)


def n_keep_erts(n_candidates: int, phi: float = 0.7) -> int:
    """How many candidates the ERTS filter keeps before rescue: ``max(1, int(phi * n))`` (0 if n == 0).

    This is the published formula, float product included: ``int(0.7 * 90)`` is 62, not 63, because
    0.7 * 90 == 62.99999999999999 in binary floating point. The kit keeps it to match the reference
    (with the paper's batch of 32 and phi in {0.5, 0.7, 0.9} no such case arises).

    Example:
        >>> n_keep_erts(10), n_keep_erts(1), n_keep_erts(0), n_keep_erts(90)
        (7, 1, 0, 62)
    """
    n_candidates = check_int("n_candidates", n_candidates, minimum=0)
    check_range("phi", phi, 0.0, 1.0, low_inclusive=False)
    return 0 if n_candidates == 0 else max(1, int(float(phi) * n_candidates))


def rank_desc(scores: torch.Tensor) -> torch.Tensor:
    """Order of ``scores`` from highest to lowest; ties by position (earlier first); NaN last.

    Example:
        >>> rank_desc(torch.tensor([0.2, 0.5, float('nan'), 0.5])).tolist()
        [1, 3, 0, 2]
    """
    s = torch.as_tensor(scores).detach().cpu().double().numpy()
    key = np.where(np.isnan(s), -np.inf, s)
    nan_last = np.isnan(s).astype(np.int8)
    # lexsort: last key is primary -> (is NaN, -score, position)
    order = np.lexsort((np.arange(len(s)), -key, nan_last))
    return torch.from_numpy(order.astype(np.int64))


def erts_filter(candidates: torch.Tensor, p_true: torch.Tensor, focus: torch.Tensor,
                labels: torch.Tensor, phi: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """The ERTS focus filter with class-aware rescue, on one batch's PDD candidates.

    ``combined = (1 - p_true) * focus`` for every candidate; the top ``max(1, int(phi * n))``
    candidates pass (ties: the earlier batch position wins; NaN ranks last). Then every class present
    among the candidates that has no passing sample gets its best-scoring candidate back (rescue).

    Args:
        candidates: (n,) int64 batch positions that PDD would keep.
        p_true: (B,) true-class probability of the WHOLE batch (indexed by ``candidates``).
        focus: (n,) focus score of each candidate, in the order of ``candidates`` (what
            ``BatchScorer.focus(candidates)`` returns).
        labels: (B,) int class ids of the whole batch (multi-label: pass one class per sample).
        phi: kept fraction in (0, 1].

    Returns:
        ``(kept_idx, rescued_idx)``: disjoint, sorted int64 batch positions. ``kept_idx`` passed the
        filter, ``rescued_idx`` failed it but were rescued; train on both (their union).

    Raises:
        ValueError: shapes disagree or ``phi`` outside (0, 1].

    Example:
        >>> kept, rescued = erts_filter(torch.tensor([0, 1, 2, 3]),
        ...                             p_true=torch.tensor([0.0, 0.2, 0.0, 0.1]),
        ...                             focus=torch.tensor([0.9, 0.5, 0.1, 0.8]),
        ...                             labels=torch.tensor([0, 0, 1, 0]), phi=0.5)
        >>> kept.tolist(), rescued.tolist()    # combined = 0.9, 0.4, 0.1, 0.72
        ([0, 3], [2])
    """
    check_range("phi", phi, 0.0, 1.0, low_inclusive=False)
    cand = _as_cpu_1d("candidates", candidates, torch.int64)
    p = _as_cpu_1d("p_true", p_true, torch.float32)
    f = _as_cpu_1d("focus", focus, torch.float32)
    y = _as_cpu_1d("labels", labels, torch.int64)
    if f.shape != cand.shape:
        raise ValueError(f"Expected focus with one value per candidate ({len(cand)}), got {len(f)}: "
                         f"pass scorer.focus(candidates), in the order of candidates.")
    if y.shape != p.shape:
        raise ValueError(f"Expected labels and p_true of the same batch size, got {len(y)} and {len(p)}.")
    empty = torch.zeros(0, dtype=torch.int64)
    if len(cand) == 0:
        return empty, empty
    if int(cand.min()) < 0 or int(cand.max()) >= len(p):
        raise ValueError(f"Expected candidate positions in [0, {len(p) - 1}], got range "
                         f"[{int(cand.min())}, {int(cand.max())}].")
    if len(torch.unique(cand)) != len(cand):
        raise ValueError("Expected distinct candidate positions, got repeats: pass each batch position once.")
    by_pos = torch.argsort(cand)                        # rank ties by batch position, whatever the input order
    cand, f = cand[by_pos], f[by_pos]
    combined = (1.0 - p[cand]) * f                      # (n,)
    order = rank_desc(combined)                         # candidate slots, best first
    n_keep = n_keep_erts(len(cand), phi)
    passed = torch.zeros(len(cand), dtype=torch.bool)
    passed[order[:n_keep]] = True
    rescued = torch.zeros(len(cand), dtype=torch.bool)
    cand_labels = y[cand]
    for cls in torch.unique(cand_labels).tolist():
        in_cls = cand_labels == cls
        if bool((passed & in_cls).any()):
            continue
        best = next(int(i) for i in order.tolist() if bool(in_cls[i]))  # best-scoring of the class
        rescued[best] = True
    return torch.sort(cand[passed]).values, torch.sort(cand[rescued]).values
