"""A policy grid built for paired comparisons: every policy of a seed back to back, over one or more folds.

:func:`~erts_kit.results.run_grid` trains a list of policies under one set of settings. Comparing
policies fairly needs a little more, which :func:`run_paired_grid` adds:

* **variants**: one policy under other settings, run under its own label, e.g.
  ``"infobatch:prune_ratio=0.8,warm_up=1"`` (see :func:`parse_variant`);
* **annealing by default** for ``infobatch`` and ``noise_aware``: every sample in the last 12.5% of the
  epochs (InfoBatch's schedule; never before warm-up ends, so a short run is refused nowhere) unless the
  variant sets ``start_revision``;
* **seed-major order**: all runs of one seed go back to back, so a change in the machine's load hits every
  policy of a pair alike;
* **folds**: the same grid on several :class:`~erts_kit.data.ECGData` (e.g. record-wise folds from
  :func:`~erts_kit.data.protocol.held_out_fold`), with :func:`average_folds` giving one row per
  (policy, seed) for :func:`~erts_kit.results.stats.paired_differences`;
* **CPU seconds** of each run (this process, every thread), a cost far less disturbed than wall-clock
  by other jobs on a shared machine.

Example:
    >>> parse_variant("infobatch:prune_ratio=0.8,start_revision=null")
    ('infobatch[prune_ratio=0.8,start_revision=null]', 'infobatch', {'prune_ratio': 0.8, 'start_revision': None})
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..data.dataset import ECGData
from .grid import ExperimentConfig, run_grid

__all__ = ["ANNEALED_POLICIES", "average_folds", "parse_variant", "run_paired_grid"]

ANNEALED_POLICIES = ("infobatch", "noise_aware")
"""Policies that, unless told otherwise, train on every sample in the last 12.5% of the epochs."""


def parse_variant(text: str) -> tuple[str, str, dict[str, Any]]:
    """Split ``"policy:key=value,key=value"`` into (label, policy, settings); values are read as YAML.

    Args:
        text: a policy name, optionally followed by ``:`` and comma-separated ``key=value`` settings.

    Returns:
        ``(label, policy, settings)``; the label is the policy name, plus ``[settings]`` when there are any.

    Raises:
        ValueError: a setting without ``=``.

    Example:
        >>> parse_variant("full")
        ('full', 'full', {})
        >>> parse_variant("noise_aware:drop_share=0.2")[2]
        {'drop_share': 0.2}
    """
    policy, _, opts = text.strip().partition(":")
    pairs = [o for o in opts.split(",") if o.strip()]
    bad = [o for o in pairs if "=" not in o]
    if bad:
        raise ValueError(f"Expected settings as key=value after the policy name, e.g. 'infobatch:prune_ratio=0.8', "
                         f"got {bad} in {text!r}.")
    extra = {k.strip(): yaml.safe_load(v) for k, v in (o.split("=", 1) for o in pairs)}
    return (f"{policy}[{opts}]" if opts else policy), policy, extra


def run_paired_grid(folds: ECGData | Sequence[ECGData], policies: Sequence[str], seeds: Sequence[int], model: str,
                    epochs: int, out_dir: str | os.PathLike, config: Mapping[str, Any] | None = None, *,
                    on_seed: Callable[[pd.DataFrame], None] | None = None, progress: bool = False) -> pd.DataFrame:
    """Train every policy (or variant) on every fold, seed by seed; one results row per run.

    Each run is one :func:`~erts_kit.results.run_grid` call in ``out_dir/fold<i>/<label>``, so the
    grid resumes where it stopped and variants of one policy never share a folder.

    Args:
        folds: one dataset, or several (e.g. record-wise folds); each needs train / val / test splits.
        policies: policy names or variants (:func:`parse_variant`), e.g. ``["full", "infobatch:prune_ratio=0.8"]``.
        seeds: seeds; a seed gives every policy the same initial weights and data order.
        model: backbone name.
        epochs: training epochs of every run.
        out_dir: grid folder.
        config: settings shared by every run (:class:`~erts_kit.results.grid.ExperimentConfig` fields);
            a variant's settings override them.
        on_seed: called with the table so far after each seed (e.g. to write a report).
        progress: progress bars of each run.

    Returns:
        :func:`run_grid`'s columns, ``policy`` set to the label, plus ``fold`` and ``cpu_seconds`` (NaN
        for runs reused from an earlier call, which have no CPU time of their own).

    Raises:
        ValueError: no fold, or a malformed variant (before any training).

    Example:
        >>> from erts_kit.data import load_dataset
        >>> import tempfile
        >>> d = load_dataset("synthetic", n_samples=40, n_leads=1, duration_s=3.0, seed=0)
        >>> df = run_paired_grid(d, ["full", "infobatch:prune_ratio=0.5"], [0], "small_cnn", 2,
        ...                      tempfile.mkdtemp(), {"device": "cpu", "batch_size": 8, "warm_up": 1})
        >>> df["policy"].tolist(), df["fold"].tolist()
        (['full', 'infobatch[prune_ratio=0.5]'], [0, 0])
    """
    datasets = [folds] if isinstance(folds, ECGData) else list(folds)
    if not datasets:
        raise ValueError("Expected at least one dataset (fold) to train on, got none.")
    variants = [parse_variant(p) for p in policies]
    base = dict(config or {})
    frames: list[pd.DataFrame] = []
    for seed in seeds:
        for label, policy, extra in variants:
            cfg = {**base, **extra}
            if policy in ANNEALED_POLICIES and "start_revision" not in extra:   # never before warm-up ends
                warm_up = int(cfg.get("warm_up", ExperimentConfig.warm_up))
                cfg["start_revision"] = max(epochs - max(1, round(0.125 * epochs)), warm_up)
            for i, data in enumerate(datasets):
                c0 = time.process_time()
                df = run_grid(data, [policy], [seed], model, epochs, Path(out_dir) / f"fold{i}" / label, cfg,
                              progress=progress)
                cpu = time.process_time() - c0 if df.attrs.get("executed") else float("nan")
                frames.append(df.assign(policy=label, fold=i, cpu_seconds=cpu))
        if on_seed is not None:
            on_seed(pd.concat(frames, ignore_index=True))
    return pd.concat(frames, ignore_index=True)


def _sum_or_nan(values: pd.Series) -> float:
    """A sum that stays NaN when any term is unknown (a reused run has no CPU time of its own)."""
    return float(values.sum(min_count=len(values))) if len(values) else float("nan")


def average_folds(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, seed): metrics and ledger counts averaged over the folds, clock columns summed.

    Args:
        results: :func:`run_paired_grid`'s table (a ``fold`` column; without one each row is its own fold).

    Returns:
        DataFrame with ``policy, seed, n_folds``, the mean of every other numeric column, and the sum of
        ``wall_seconds`` and ``cpu_seconds``; ready for :func:`~erts_kit.results.stats.paired_differences`.

    Example:
        >>> df = pd.DataFrame({"policy": ["full"] * 2, "seed": [0, 0], "fold": [0, 1], "macro_f1": [0.4, 0.6],
        ...                    "wall_seconds": [1.0, 2.0]})
        >>> average_folds(df)[["policy", "macro_f1", "wall_seconds", "n_folds"]].to_dict("records")
        [{'policy': 'full', 'macro_f1': 0.5, 'wall_seconds': 3.0, 'n_folds': 2}]
    """
    df = results if "fold" in results.columns else results.assign(fold=0)
    numeric = [c for c in df.select_dtypes("number").columns if c not in ("seed", "fold")]
    how = {c: (_sum_or_nan if c in ("wall_seconds", "cpu_seconds") else "mean") for c in numeric}
    out = df.groupby(["policy", "seed"], sort=False).agg(how)
    out["n_folds"] = df.groupby(["policy", "seed"], sort=False)["fold"].nunique()
    return out.reset_index()
