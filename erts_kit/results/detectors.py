"""How well does a per-sample signal find the corrupted samples? AUROC and precision at the true rate.

A *detector signal* gives each training sample a number, oriented so that **higher means "more likely
corrupted" as the method that uses it reads it**: a policy that drops low-focus samples treats focus
as ``-focus``; ERTS drops low ``(1 - p_true) * focus``, so its detector is ``-combined``; loss is used
as is; margin and AUM as ``-margin`` and ``-AUM``; confident learning as ``1 - label quality``. An
AUROC below 0.5 then means the method ranks corrupted samples as *better* than clean ones.

:func:`detector_table` scores every signal against the ground truth (``meta["corrupted"]``) on the
whole split and per group:

- ``all``: every sample;
- ``kind=flipped`` / ``kind=<artefact>``: the clean samples plus the corrupted ones of that kind;
- ``class=<true class>``: the samples whose true class is that class (local vs diffuse evidence).

Columns: ``auroc`` (Mann-Whitney: the chance that a random corrupted sample outranks a random clean
one), its 95% interval (Hanley & McNeil 1982) and the two-sided p-value of "AUROC = 0.5"
(``scipy.stats.mannwhitneyu``), ``precision_at_rate`` (share of corrupted among the k top-ranked,
k = the number of corrupted samples in the group), ``base_rate`` (what random ranking gives).

Example:
    >>> meta = pd.DataFrame({"corrupted": [True, True, False, False, False], "flipped": [True, False] + [False] * 3,
    ...                      "artifact_kind": ["none", "muscle", "none", "none", "none"], "class_true": ["a"] * 5})
    >>> sig = pd.DataFrame({"loss": [5.0, 4.0, 1.0, 2.0, 3.0]})
    >>> t = detector_table(sig, meta)
    >>> t.loc[t["group"] == "all", ["signal", "auroc", "precision_at_rate", "base_rate"]].values.tolist()
    [['loss', 1.0, 1.0, 0.4]]
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["DETECTOR_COLUMNS", "auroc_interval", "detector_table", "detector_verdicts", "precision_at_rate"]

DETECTOR_COLUMNS = ["signal", "group", "n", "n_corrupted", "base_rate", "auroc", "auroc_low", "auroc_high",
                    "p_value", "precision_at_rate", "lift"]


def auroc_interval(scores: Sequence[float], corrupted: Sequence[bool]) -> tuple[float, float, float, float]:
    """``(auroc, low, high, p_value)``: Mann-Whitney AUROC with a Hanley-McNeil 95% interval.

    NaN everywhere when either group is empty; NaN scores are refused.

    Example:
        >>> a, lo, hi, p = auroc_interval([0.9, 0.8, 0.1, 0.2, 0.3], [True, True, False, False, False])
        >>> a, round(lo, 3) <= 1.0 <= round(hi, 3)
        (1.0, True)
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(corrupted, dtype=bool)
    if s.shape != c.shape or s.ndim != 1:
        raise ValueError(f"Expected scores and corrupted flags of the same 1-D shape, got {s.shape} and {c.shape}.")
    if not np.isfinite(s).all():
        raise ValueError(f"Expected finite scores, got {int((~np.isfinite(s)).sum())} NaN/inf: score every sample "
                         "or leave the unscored ones out.")
    n1, n0 = int(c.sum()), int((~c).sum())
    if n1 == 0 or n0 == 0:
        return (float("nan"),) * 4
    u, p = sps.mannwhitneyu(s[c], s[~c], alternative="two-sided")
    a = float(u) / (n1 * n0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a), 0.0) / (n1 * n0))
    return a, max(0.0, a - 1.96 * se), min(1.0, a + 1.96 * se), float(p)


def precision_at_rate(scores: Sequence[float], corrupted: Sequence[bool]) -> float:
    """Share of corrupted samples among the k highest scores, k = number of corrupted (NaN when k = 0).

    Ties at the cut are broken by a stable sort on ``-score`` (earlier samples first).

    Example:
        >>> precision_at_rate([0.9, 0.1, 0.8, 0.2], [True, False, False, True])
        0.5
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(corrupted, dtype=bool)
    k = int(c.sum())
    if k == 0:
        return float("nan")
    top = np.argsort(-s, kind="stable")[:k]
    return float(c[top].mean())


def _groups(meta: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    corrupted = meta["corrupted"].to_numpy(bool)
    clean = ~corrupted
    out = [("all", np.ones(len(meta), bool))]
    if "flipped" in meta.columns and meta["flipped"].any():
        out.append(("kind=flipped", clean | meta["flipped"].to_numpy(bool)))
    if "artifact_kind" in meta.columns:
        kinds = meta["artifact_kind"].astype(str).to_numpy()
        for k in sorted(set(kinds) - {"none"}):
            out.append((f"kind={k}", clean | (kinds == k)))
    cls = "class_true" if "class_true" in meta.columns else None
    if cls is not None:
        for c in sorted(meta[cls].astype(str).unique()):
            out.append((f"class={c}", meta[cls].astype(str).to_numpy() == c))
    return out


def detector_table(signals: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """One row per (signal, group): AUROC with interval and p-value, precision at the true rate, lift.

    Args:
        signals: one column per signal, one row per sample (higher = more suspect; module docstring).
        meta: the same rows' ground truth: ``corrupted`` (bool), optional ``flipped``, ``artifact_kind``,
            ``class_true``.

    Returns:
        DataFrame with :data:`DETECTOR_COLUMNS`; ``lift`` = precision at rate / base rate.

    Raises:
        ValueError: row counts differ, or ``meta`` has no ``corrupted`` column.
    """
    if "corrupted" not in meta.columns:
        raise ValueError("Expected meta with a 'corrupted' column (the ground truth), got columns "
                         f"{list(meta.columns)}: use the synthetic benchmark or erts_kit.data.inject_corruption.")
    if len(signals) != len(meta):
        raise ValueError(f"Expected one signal row per meta row, got {len(signals)} and {len(meta)}.")
    meta = meta.reset_index(drop=True)
    corrupted = meta["corrupted"].to_numpy(bool)
    rows = []
    for name in signals.columns:
        s = signals[name].to_numpy(np.float64)
        for group, mask in _groups(meta):
            m = mask & np.isfinite(s)
            a, lo, hi, p = auroc_interval(s[m], corrupted[m])
            base = float(corrupted[m].mean()) if m.any() else float("nan")
            prec = precision_at_rate(s[m], corrupted[m])
            rows.append({"signal": name, "group": group, "n": int(m.sum()), "n_corrupted": int(corrupted[m].sum()),
                         "base_rate": base, "auroc": a, "auroc_low": lo, "auroc_high": hi, "p_value": p,
                         "precision_at_rate": prec, "lift": prec / base if base and base > 0 else float("nan")})
    return pd.DataFrame(rows, columns=DETECTOR_COLUMNS)


def detector_verdicts(table: pd.DataFrame, group: str = "all") -> list[str]:
    """One sentence per signal (and checkpoint, when the table has an ``epoch`` column): beats chance or not.

    Example:
        >>> t = pd.DataFrame([{"signal": "loss", "group": "all", "auroc": 0.8, "auroc_low": 0.75, "auroc_high": 0.85,
        ...                    "precision_at_rate": 0.6, "base_rate": 0.2, "lift": 3.0}])
        >>> detector_verdicts(t)[0]
        'loss: beats chance, AUROC 0.80 [0.75, 0.85], precision at the true rate 0.60 vs 0.20 at random (3.0x).'
    """
    sub = table[table["group"] == group]
    out = []
    for r in sub.itertuples(index=False):
        if r.auroc_low > 0.5:
            tag = "beats chance"
        elif r.auroc_high < 0.5:
            tag = "WORSE than chance (ranks corrupted samples as better)"
        else:
            tag = "no better than chance"
        when = f" (epoch {r.epoch})" if hasattr(r, "epoch") else ""
        ds = f"{r.dataset} " if hasattr(r, "dataset") else ""
        out.append(f"{ds}{r.signal}{when}: {tag}, AUROC {r.auroc:.2f} [{r.auroc_low:.2f}, {r.auroc_high:.2f}], "
                   f"precision at the true rate {r.precision_at_rate:.2f} vs {r.base_rate:.2f} at random ({r.lift:.1f}x).")
    return out
