"""Focus scores: one number per Grad-CAM map saying how concentrated the explanation is.

Every score maps a batch of lead-reduced maps (B, W), signed or not, to (B,) float32 values in
[0, 1], higher = more focused, and is applied at the layer's own resolution (no upsampling), as
ERTS does. Every score first applies ReLU, so an all-negative (or all-zero) map is well defined:
each score documents its value for it and none returns NaN.

Scores:

* ``topk_mean`` (the ERTS paper, arXiv 2606.12252): ReLU, min-max normalise each map
  (``(m - min) / (max - min)``, with denominator 1 for a flat map so it becomes all zeros), then the
  mean of the top ``k = max(1, floor(W * frac))`` values (frac = 0.1: the top decile).
* ``top_mass_share``: share of the positive mass that lies in the top ``k`` positions (no
  normalisation); between k/W (uniform) and 1 (all mass in at most k positions); zero mass -> 0.0.
* ``one_minus_entropy``: ``1 - H(p) / log(W)`` with ``p`` the ReLU'd map divided by its sum; 0 for a
  uniform map, 1 for a single spike; zero mass -> 0.0 (and W = 1 with positive mass -> 1.0).

Does the top-decile mean (with min-max) reward localised maps or broad plateaus?
Broad plateaus. After min-max every non-flat map has maximum 1, so ``topk_mean`` only asks "are
the top k positions all close to the maximum?". A plateau at least k positions wide scores 1.0, a
single sharp spike scores only 1/k, and a map that is flat up to a tiny bump is stretched to full
contrast and scores like a perfect plateau: the score is blind to scale. A constant map scores 0.0
(flat: (x - min) / 1 = 0), whatever its height. Worked example with W = 20 (k = 2):

==================================  =========  ==============  =================
map (20 positions)                  topk_mean  top_mass_share  one_minus_entropy
==================================  =========  ==============  =================
spike: one 1, nineteen 0                 0.50            1.00               1.00
plateau: ten 1, ten 0                    1.00            0.20               0.23
near flat: all 1, two at 1.01            1.00            0.10               0.00
constant: all 1                          0.00            0.10               0.00
==================================  =========  ==============  =================

The mass-based scores rank spike > plateau > near-flat, as "focus" suggests; ``topk_mean`` ranks the
plateau and a practically uniform map above the spike.

>>> import torch
>>> maps = torch.zeros(4, 20)
>>> maps[0, 5] = 1.0                       # spike
>>> maps[1, :10] = 1.0                     # plateau
>>> maps[2] = 1.0; maps[2, 5:7] = 1.01     # near flat
>>> maps[3] = 1.0                          # constant
>>> for name in ("topk_mean", "top_mass_share", "one_minus_entropy"):
...     print(name, [round(v, 2) for v in focus_score(maps, name).tolist()])
topk_mean [0.5, 1.0, 1.0, 0.0]
top_mass_share [1.0, 0.2, 0.1, 0.1]
one_minus_entropy [1.0, 0.23, 0.0, 0.0]

How to add a score: write a function ``(maps (B, W), **kw) -> (B,)`` and register it; it is then
available everywhere a score name is accepted (``focus_score``, the ground-truth study, policies):

>>> def peak_share(maps: torch.Tensor) -> torch.Tensor:
...     '''Largest positive value over the positive mass (zero mass -> 0.0).'''
...     m = torch.relu(maps.float())
...     mass = m.sum(-1)
...     return torch.where(mass > 0, m.amax(-1) / mass.clamp_min(1e-30), torch.zeros_like(mass))
>>> register_focus_score("peak_share", peak_share, overwrite=True)
>>> focus_score(torch.tensor([[0.0, 1.0, 3.0]]), "peak_share").tolist()
[0.75]
>>> _ = FOCUS_SCORES.pop("peak_share")
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._validation import check_choice, check_range

FocusFn = Callable[..., torch.Tensor]


def _as_maps(maps: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(maps)
    if m.dim() != 2:
        hint = (" reduce 2-D per-lead maps with maps.mean(1) (or call gradcam without per_lead)" if m.dim() == 3
                else " add a batch axis with maps[None]" if m.dim() == 1 else "")
        raise ValueError(f"Expected maps of shape (B, W), got {tuple(m.shape)}:{hint}.")
    if m.shape[1] < 1:
        raise ValueError(f"Expected maps with at least one position, got shape {tuple(m.shape)}.")
    return torch.relu(m.float())


def _k(width: int, frac: float) -> int:
    check_range("frac", frac, 0.0, 1.0, low_inclusive=False)
    return max(1, math.floor(width * frac + 1e-9))


def topk_mean(maps: torch.Tensor, frac: float = 0.1) -> torch.Tensor:
    """ERTS focus: ReLU, per-map min-max (flat map: denominator 1), mean of the top max(1, W*frac) values.

    Args:
        maps: (B, W) Grad-CAM maps at layer resolution, signed or ReLU'd.
        frac: share of positions averaged (0.1 = top decile: k = max(1, W // 10)).

    Returns:
        (B,) float32 in [0, 1]. All-negative, all-zero or constant maps give 0.0.

    Example:
        >>> topk_mean(torch.tensor([[0.0] * 9 + [1.0], [2.0] * 10, [-1.0] * 10])).tolist()
        [1.0, 0.0, 0.0]
    """
    m = _as_maps(maps)
    lo = m.amin(-1, keepdim=True)
    span = m.amax(-1, keepdim=True) - lo
    span = torch.where(span > 0, span, torch.ones_like(span))  # flat map: denominator 1 -> all zeros
    norm = (m - lo) / span
    return norm.topk(_k(m.shape[1], frac), dim=-1).values.mean(-1)


def top_mass_share(maps: torch.Tensor, frac: float = 0.1) -> torch.Tensor:
    """Share of the positive mass held by the top max(1, W*frac) positions; zero mass -> 0.0.

    Args:
        maps: (B, W) maps, signed or ReLU'd.
        frac: share of positions counted as "top".

    Returns:
        (B,) float32 in [k/W, 1] for maps with positive mass, 0.0 for all-non-positive maps.

    Example:
        >>> top_mass_share(torch.tensor([[0.0] * 9 + [1.0], [2.0] * 10, [-1.0] * 10])).tolist()
        [1.0, 0.10000000149011612, 0.0]
    """
    m = _as_maps(maps)
    mass = m.sum(-1)
    top = m.topk(_k(m.shape[1], frac), dim=-1).values.sum(-1)
    return torch.where(mass > 0, top / mass.clamp_min(torch.finfo(m.dtype).tiny), torch.zeros_like(mass))


def one_minus_entropy(maps: torch.Tensor) -> torch.Tensor:
    """1 - normalised Shannon entropy of the ReLU'd map as a distribution over positions.

    Args:
        maps: (B, W) maps, signed or ReLU'd.

    Returns:
        (B,) float32 in [0, 1]: 1.0 for a single spike, 0.0 for a uniform map; zero mass -> 0.0;
        W = 1 with positive mass -> 1.0.

    Example:
        >>> [round(v, 4) for v in one_minus_entropy(torch.tensor([[0.0, 0.0, 0.0, 5.0], [1.0, 1.0, 0.0, 0.0]])).tolist()]
        [1.0, 0.5]
    """
    m = _as_maps(maps)
    mass = m.sum(-1, keepdim=True)
    p = m / mass.clamp_min(torch.finfo(m.dtype).tiny)
    ent = -(torch.xlogy(p, p)).sum(-1)  # 0 * log 0 = 0
    width = m.shape[1]
    score = 1.0 - ent / math.log(width) if width > 1 else torch.ones_like(ent)
    score = score.clamp(0.0, 1.0)
    return torch.where(mass[:, 0] > 0, score, torch.zeros_like(score))


FOCUS_SCORES: dict[str, FocusFn] = {
    "topk_mean": topk_mean,
    "top_mass_share": top_mass_share,
    "one_minus_entropy": one_minus_entropy,
}


def register_focus_score(name: str, fn: FocusFn, overwrite: bool = False) -> None:
    """Add a focus score ``fn(maps (B, W), **kw) -> (B,)`` to :data:`FOCUS_SCORES` under ``name``.

    Args:
        name: the name used by :func:`focus_score` and everything that takes a score name.
        fn: the score; it should ReLU its input and return a finite value for every map.
        overwrite: replace an existing score of that name (else that raises).

    Example:
        >>> register_focus_score("max_value", lambda maps: torch.relu(maps).amax(-1), overwrite=True)
        >>> focus_score(torch.tensor([[1.0, 4.0]]), "max_value").tolist()
        [4.0]
        >>> _ = FOCUS_SCORES.pop("max_value")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Expected a non-empty string name, got {name!r}.")
    if not callable(fn):
        raise TypeError(f"Expected fn to be callable (maps (B, W) -> (B,)), got {type(fn).__name__}.")
    if name in FOCUS_SCORES and not overwrite:
        raise ValueError(f"A focus score named {name!r} already exists: pass overwrite=True to replace it "
                         f"or choose another name.")
    FOCUS_SCORES[name] = fn


def focus_score(maps: torch.Tensor, name: str = "topk_mean", **kw) -> torch.Tensor:
    """Focus of each map by a registered score (see :data:`FOCUS_SCORES`).

    Args:
        maps: (B, W) Grad-CAM maps at layer resolution (signed maps are ReLU'd by the score).
        name: registered score name.
        **kw: passed to the score (e.g. ``frac=0.2`` for ``topk_mean``).

    Returns:
        (B,) float32 scores on the maps' device.

    Raises:
        ValueError: unknown name, wrong shape, or a score that returned a wrong shape or NaN.

    Example:
        >>> focus_score(torch.tensor([[0.0] * 9 + [1.0]])).tolist()
        [1.0]
    """
    check_choice("focus score", name, list(FOCUS_SCORES))
    m = torch.as_tensor(maps)
    _as_maps(m)
    out = torch.as_tensor(FOCUS_SCORES[name](m, **kw)).float()
    if out.shape != (m.shape[0],):
        raise ValueError(f"Focus score {name!r} returned shape {tuple(out.shape)}, expected ({m.shape[0]},): "
                         f"a score maps (B, W) to (B,).")
    if torch.isnan(out).any():
        raise ValueError(f"Focus score {name!r} returned NaN for {int(torch.isnan(out).sum())} maps: "
                         f"define its value for all-zero maps.")
    return out
