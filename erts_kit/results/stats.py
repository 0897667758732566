"""Paired statistics over seeds: is a policy's macro-F1 really different from full-data training?

Runs of a grid are paired by seed (same seed: same initial weights, same data order, same data). For
each policy, :func:`paired_differences` takes the per-seed differences ``metric(policy) - metric(full)``
and reports their mean with a 95% interval two ways:

- the paired t interval (``scipy.stats.t``; exact when the differences are normal, and honest about
  few seeds: with 3 seeds the t quantile is 4.30, not 1.96);
- the paired bootstrap percentile interval (resampling the seeds, ``scipy.stats.bootstrap``); with
  fewer than 5 pairs it is too narrow to trust (a resample of 3 seeds has only 10 distinct means), so
  the t interval is the one :func:`verdict` uses.

Next to it the wall-clock ratio ``wall_seconds(policy) / wall_seconds(full)`` from the same grid
(mean of the per-seed ratios, with its range): a speed claim measured side by side, never a number
from another run.

Example:
    >>> df = pd.DataFrame({"policy": ["full"] * 3 + ["dbpd"] * 3, "seed": [1, 2, 3] * 2,
    ...                    "macro_f1": [0.90, 0.80, 0.85, 0.88, 0.79, 0.82],
    ...                    "wall_seconds": [10.0, 10.0, 10.0, 5.0, 6.0, 7.0]})
    >>> t = paired_differences(df, n_boot=200)
    >>> r = t.iloc[0]
    >>> r["policy"], int(r["n_pairs"]), round(float(r["diff_mean"]), 3), round(float(r["wall_ratio"]), 2)
    ('dbpd', 3, -0.02, 0.6)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from .._validation import check_range

__all__ = ["PAIRED_COLUMNS", "paired_differences", "paired_interval", "paired_table", "verdict"]

PAIRED_COLUMNS = ["policy", "n_pairs", "seeds", "diff_mean", "t_low", "t_high", "boot_low", "boot_high",
                  "wall_ratio", "wall_ratio_min", "wall_ratio_max", "ce_ratio"]
"""Columns of :func:`paired_differences` (``ce_ratio``: compute-equivalent epochs vs the baseline's)."""


def paired_interval(diffs: Sequence[float], confidence: float = 0.95, n_boot: int = 10000,
                    seed: int = 0) -> dict[str, float]:
    """Mean of paired differences with a t interval and a bootstrap percentile interval.

    Args:
        diffs: one difference per seed (policy minus baseline).
        confidence: interval level in (0, 1).
        n_boot: bootstrap resamples (0: no bootstrap).
        seed: seed of the bootstrap resampling.

    Returns:
        ``{"n", "mean", "sd", "t_low", "t_high", "boot_low", "boot_high"}``; intervals are NaN with
        fewer than 2 differences (no spread to estimate); with all differences equal both are that value.

    Raises:
        ValueError: a non-finite difference, or ``confidence`` outside (0, 1).

    Example:
        >>> r = paired_interval([0.01, 0.03, 0.02], n_boot=0)
        >>> round(r["mean"], 4), round(r["t_low"], 4), round(r["t_high"], 4)  # 0.02 -/+ 4.303 * 0.01 / sqrt(3)
        (0.02, -0.0048, 0.0448)
    """
    check_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    d = np.asarray(list(diffs), dtype=np.float64)
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValueError(f"Expected a 1-D list of finite paired differences, got {d!r}: drop the runs with a NaN "
                         "metric (unfinished or failed) before pairing.")
    out = {"n": int(d.size), "mean": float(d.mean()) if d.size else float("nan"),
           "sd": float(d.std(ddof=1)) if d.size > 1 else float("nan"),
           "t_low": float("nan"), "t_high": float("nan"), "boot_low": float("nan"), "boot_high": float("nan")}
    if d.size < 2:
        return out
    if np.ptp(d) == 0:
        out.update(t_low=out["mean"], t_high=out["mean"], boot_low=out["mean"], boot_high=out["mean"])
        return out
    half = sps.t.ppf(0.5 + confidence / 2, d.size - 1) * out["sd"] / math.sqrt(d.size)
    out["t_low"], out["t_high"] = float(out["mean"] - half), float(out["mean"] + half)
    if n_boot > 0:
        res = sps.bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=int(n_boot),
                            method="percentile", random_state=np.random.default_rng(seed))
        out["boot_low"], out["boot_high"] = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return out


def _pairs(df: pd.DataFrame, policy: str, baseline: str, metric: str) -> pd.DataFrame:
    cols = [c for c in (metric, "wall_seconds", "compute_equivalent_epochs") if c in df.columns]
    a = df[df["policy"] == policy].set_index("seed")[cols]
    b = df[df["policy"] == baseline].set_index("seed")[cols]
    joined = a.join(b.add_suffix("_base"), how="inner")
    return joined[np.isfinite(joined[metric]) & np.isfinite(joined[f"{metric}_base"])].sort_index()


def paired_differences(results_df: pd.DataFrame, metric: str = "macro_f1", baseline: str = "full",
                       confidence: float = 0.95, n_boot: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Per policy: the mean paired difference of ``metric`` vs ``baseline`` with 95% intervals, and the cost ratios.

    Runs are paired by ``seed``; a seed present for only one of the two policies is left out (and
    ``seeds`` lists the ones used). Policies are in the table's order, the baseline left out.

    Args:
        results_df: :func:`~erts_kit.results.run_grid`'s table (columns ``policy``, ``seed``, ``metric``;
            ``wall_seconds`` and ``compute_equivalent_epochs`` when present).
        metric: the column compared (test ``macro_f1`` by default).
        baseline: the policy every other is compared with.
        confidence, n_boot, seed: see :func:`paired_interval`.

    Returns:
        DataFrame with :data:`PAIRED_COLUMNS` (intervals NaN with fewer than 2 pairs).

    Raises:
        ValueError: a missing column, or no run of ``baseline`` (the message lists the policies found).
    """
    missing = [c for c in ("policy", "seed", metric) if c not in results_df.columns]
    if missing:
        raise ValueError(f"Expected a results table with columns policy, seed, {metric}; missing {missing}.")
    policies = list(dict.fromkeys(results_df["policy"].astype(str)))
    if baseline not in policies:
        raise ValueError(f"No run of the baseline policy {baseline!r} to pair with: the table has {policies}. "
                         f"Add {baseline!r} to the grid's policies (same seeds) or pass baseline=<one of them>.")
    rows = []
    for p in policies:
        if p == baseline:
            continue
        j = _pairs(results_df, p, baseline, metric)
        r = paired_interval((j[metric] - j[f"{metric}_base"]).to_numpy(), confidence, n_boot, seed)
        row = {"policy": p, "n_pairs": r["n"], "seeds": [int(s) for s in j.index], "diff_mean": r["mean"],
               "t_low": r["t_low"], "t_high": r["t_high"], "boot_low": r["boot_low"], "boot_high": r["boot_high"]}
        for col, key in (("wall_seconds", "wall_ratio"), ("compute_equivalent_epochs", "ce_ratio")):
            ratio = (j[col] / j[f"{col}_base"]).to_numpy(dtype=float) if col in j.columns else np.array([])
            row[key] = float(ratio.mean()) if ratio.size else float("nan")
            if key == "wall_ratio":
                row["wall_ratio_min"] = float(ratio.min()) if ratio.size else float("nan")
                row["wall_ratio_max"] = float(ratio.max()) if ratio.size else float("nan")
        rows.append(row)
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    out.attrs.update(metric=metric, baseline=baseline, confidence=confidence)
    return out


def paired_table(paired: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The display version of :func:`paired_differences`: one string column per interval.

    Example:
        >>> df = pd.DataFrame({"policy": ["full", "full", "x", "x"], "seed": [1, 2, 1, 2],
        ...                    "macro_f1": [0.8, 0.9, 0.8, 0.8], "wall_seconds": [4.0, 4.0, 2.0, 2.0]})
        >>> paired_table(paired_differences(df, n_boot=0)).iloc[0].tolist()
        ['x', '1, 2', '-0.050', '[-0.685, 0.585]', '–', '0.50x (0.50-0.50)', '–']
    """
    def f(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"

    def iv(lo: float, hi: float) -> str:
        return "–" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{f(lo)}, {f(hi)}]"

    metric = paired.attrs.get("metric", "macro_f1")
    base = paired.attrs.get("baseline", "full")
    rows = []
    for r in paired.itertuples(index=False):
        wall = "–" if not np.isfinite(r.wall_ratio) else \
            f"{r.wall_ratio:.2f}x ({r.wall_ratio_min:.2f}-{r.wall_ratio_max:.2f})"
        ce = "–" if not np.isfinite(r.ce_ratio) else f"{r.ce_ratio:.2f}x"
        rows.append([r.policy, ", ".join(map(str, r.seeds)), f(r.diff_mean), iv(r.t_low, r.t_high),
                     iv(r.boot_low, r.boot_high), wall, ce])
    return pd.DataFrame(rows, columns=["policy", "paired seeds", f"{metric} - {base}", "95% CI (paired t)",
                                       "95% CI (bootstrap)", f"wall-clock vs {base}", f"compute-eq. vs {base}"])


def verdict(paired: pd.DataFrame, max_loss: float = 0.01, max_wall_ratio: float = 0.6) -> list[str]:
    """One sentence per policy: does it meet "t lower bound >= -max_loss at <= max_wall_ratio x the baseline"?

    Example:
        >>> p = pd.DataFrame([{"policy": "x", "n_pairs": 5, "seeds": [1], "diff_mean": 0.0, "t_low": -0.005,
        ...                    "t_high": 0.005, "boot_low": -0.004, "boot_high": 0.004, "wall_ratio": 0.5,
        ...                    "wall_ratio_min": 0.5, "wall_ratio_max": 0.5, "ce_ratio": 0.5}])
        >>> verdict(p)[0]
        'x: MEETS the target (5 paired seeds): difference 0.000, 95% t interval [-0.005, 0.005], wall-clock 0.50x.'
    """
    lines = []
    for r in paired.itertuples(index=False):
        ok_acc = np.isfinite(r.t_low) and r.t_low >= -max_loss
        ok_wall = np.isfinite(r.wall_ratio) and r.wall_ratio <= max_wall_ratio
        tag = "MEETS the target" if ok_acc and ok_wall else (
            "misses on accuracy" if ok_wall else "misses on wall-clock" if ok_acc else "misses on both")
        lines.append(f"{r.policy}: {tag} ({r.n_pairs} paired seeds): difference {r.diff_mean:.3f}, 95% t interval "
                     f"[{r.t_low:.3f}, {r.t_high:.3f}], wall-clock {r.wall_ratio:.2f}x.")
    return lines
