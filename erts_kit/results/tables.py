"""Results tables of a grid of runs: mean and spread over seeds, the comparison table, Markdown.

:func:`summarise` averages ``run_grid``'s results over seeds; :func:`comparison_table` formats one row
per policy (macro-F1, effective epochs as published next to compute-equivalent epochs, wall-clock,
the filter's precision and recall); :func:`markdown_table` prints any of them for a README or report;
:func:`load_histories` reads the runs' per-epoch histories back.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .grid import run_name

__all__ = ["COLUMN_HELP", "comparison_table", "confusion_tables", "counted_note", "format_cell", "load_histories",
           "markdown_table", "per_class_table", "summarise"]

def summarise(results_df: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds, per (dataset, model, policy), in the grid's policy order.

    Columns: ``n_seeds`` and ``<metric>_mean`` / ``<metric>_std`` for macro_f1, best_val_macro_f1,
    effective_epochs, compute_equivalent_epochs, wall_seconds and the filter's precision/recall
    (std is NaN with one seed).

    Example:
        >>> df = pd.DataFrame({"dataset": "s", "model": "m", "policy": ["full", "full", "dbpd"],
        ...                    "seed": [1, 2, 1], "macro_f1": [0.5, 0.7, 0.4]})
        >>> s = summarise(df)
        >>> s[["policy", "n_seeds", "macro_f1_mean"]].round(3).values.tolist()
        [['full', 2, 0.6], ['dbpd', 1, 0.4]]
        >>> round(float(s["macro_f1_std"].iloc[0]), 4)
        0.1414
    """
    for col in ("policy", "seed"):
        if col not in results_df.columns:
            raise ValueError(f"Expected a results table with a {col!r} column (run_grid's output), "
                             f"got columns {list(results_df.columns)}.")
    keys = [k for k in ("dataset", "model", "policy") if k in results_df.columns]
    metrics = [m for m in ("macro_f1", "best_val_macro_f1", "effective_epochs", "compute_equivalent_epochs",
                           "wall_seconds", "filter_precision", "filter_recall", "filter_base_rate")
               if m in results_df.columns]
    df = results_df.copy()
    for m in metrics:
        df[m] = pd.to_numeric(df[m], errors="coerce")
    g = df.groupby(keys, sort=False)
    out = g.size().rename("n_seeds").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_std"] = g[m].std(ddof=1)
    return out.reset_index()


def load_histories(out_dir: str | os.PathLike, results_df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{run name: history}`` of the runs in ``results_df``, read from ``<out_dir>/<run>/history.csv``.

    Example:
        >>> load_histories("/nonexistent", pd.DataFrame({"policy": [], "seed": []}))
        {}
    """
    out = {}
    for pol, seed in results_df[["policy", "seed"]].itertuples(index=False, name=None):
        path = Path(out_dir) / run_name(pol, int(seed)) / "history.csv"
        if path.exists():
            out[run_name(pol, int(seed))] = pd.read_csv(path)
    return out


COLUMN_HELP: dict[str, str] = {
    "filter from epoch": "first epoch (counted from 0) in which the ERTS focus filter runs: warm_up + cam_start",
    "macro-F1 (test)": "macro-F1 on the test split with the best-validation checkpoint, over the counted classes "
                       "(N, S, V, F for the AAMI beat classes: Q is reported per class but not averaged)",
    "best val F1": "best validation macro-F1 (the epoch that picked the checkpoint)",
    "EE (published)": "effective epochs as the PDD/ERTS papers count them: samples through training "
                      "forward + backward / N (scoring and Grad-CAM passes left out)",
    "compute-eq. epochs": "full-data epochs of compute, scoring forwards (1 unit/sample) and Grad-CAM "
                          "(2 units) counted next to training steps (3 units); a full-data epoch = 1",
    "wall s": "wall-clock seconds of training + validation, summed over epochs (same machine, same process)",
    "filter precision": "share of the samples dropped for low focus that were truly corrupted "
                        "(flipped label or heavy artefact), over the filter epochs",
    "filter recall": "share of the corrupted filter candidates that were dropped for low focus",
    "base rate": "share of corrupted samples among the filter's candidates: the precision of dropping at random",
}


def format_cell(v: Any, digits: int = 3) -> str:
    """One table cell as text: ``–`` for missing values, ``digits`` decimals for floats.

    Example:
        >>> format_cell(0.12345), format_cell(None), format_cell(float("nan"))
        ('0.123', '–', '–')
    """
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "–" if not math.isfinite(float(v)) else f"{float(v):.{digits}f}"
    return str(v)


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as a GitHub Markdown table (floats rounded, NaN shown as –).

    Example:
        >>> print(markdown_table(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})))
        | a | b |
        |---|---|
        | 1 | 0.500 |
        | 2 | – |
    """
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(format_cell(v, digits) for v in row) + " |")
    return "\n".join(lines)


def _fmt_int(v: Any) -> str:
    try:
        return "–" if v is None or not math.isfinite(float(v)) else str(int(v))
    except (TypeError, ValueError):
        return "–"


def _pm(mean: Any, std: Any, digits: int) -> str:
    m = format_cell(mean, digits)
    if m == "–" or std is None or not isinstance(std, (float, np.floating)) or not math.isfinite(float(std)):
        return m
    return f"{m} ± {float(std):.{digits}f}"


def comparison_table(results_df: pd.DataFrame) -> pd.DataFrame:
    """The display table: one row per policy (mean ± std over seeds when there are several).

    Example:
        >>> df = pd.DataFrame({"policy": ["full", "full"], "seed": [1, 2], "macro_f1": [0.5, 0.7],
        ...                    "effective_epochs": [3.0, 3.0]})
        >>> comparison_table(df)[["policy", "seeds", "macro-F1 (test)", "EE (published)"]].values.tolist()
        [['full', 2, '0.600 ± 0.141', '3.00 ± 0.00']]
    """
    s = summarise(results_df)
    cols = [("macro_f1", "macro-F1 (test)", 3), ("best_val_macro_f1", "best val F1", 3),
            ("effective_epochs", "EE (published)", 2), ("compute_equivalent_epochs", "compute-eq. epochs", 2),
            ("wall_seconds", "wall s", 1), ("filter_precision", "filter precision", 3),
            ("filter_recall", "filter recall", 3), ("filter_base_rate", "base rate", 3)]
    out = pd.DataFrame({"policy": s["policy"], "seeds": s["n_seeds"]})
    if "filter_start" in results_df.columns:  # the epoch (from 0) the ERTS focus filter starts; – for others
        first = results_df.drop_duplicates("policy").set_index("policy")["filter_start"]
        out["filter from epoch"] = [_fmt_int(first.get(p)) for p in out["policy"]]
    for key, label, d in cols:
        if f"{key}_mean" in s.columns:
            out[label] = [_pm(m, sd, d) for m, sd in zip(s[f"{key}_mean"], s[f"{key}_std"])]
    return out


def _mapping(v: Any) -> dict:
    """A dict cell of a results table (results.json gives dicts, results.csv JSON text)."""
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v.startswith("{"):
        return json.loads(v)
    return {}


def _list(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str) and v.startswith("["):
        return json.loads(v)
    return []


def counted_note(results_df: pd.DataFrame) -> str | None:
    """``'macro-F1 over N, S, V, F; Q reported, not counted'`` when the runs leave classes out, else None.

    Example:
        >>> counted_note(pd.DataFrame({"counted": [["N", "S", "V", "F"]],
        ...                            "per_class": [{c: {} for c in "NSVFQ"}]}))
        'macro-F1 over N, S, V, F; Q reported, not counted'
    """
    if "counted" not in results_df.columns or "per_class" not in results_df.columns or not len(results_df):
        return None
    counted = _list(results_df["counted"].iloc[0])
    every = list(_mapping(results_df["per_class"].iloc[0]))
    left_out = [c for c in every if c not in counted]
    if not counted or not left_out:
        return None
    return f"macro-F1 over {', '.join(counted)}; {', '.join(left_out)} reported, not counted"


_RATE_LABELS = (("sensitivity", "Se"), ("positive_predictivity", "+P"), ("specificity", "Sp"), ("f1", "F1"))


def per_class_table(results_df: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, class): EC57 Se, +P, Sp, F1 on the test split (mean ± std over seeds), support,
    whether the class is counted in the macro-F1, and the share of its samples trained on after warm-up.

    Empty when the results hold no per-class numbers (runs without a test split).

    Example:
        >>> pc = {"N": {"sensitivity": 0.9, "positive_predictivity": 0.8, "specificity": 0.5, "f1": 0.85,
        ...             "support": 10}, "Q": {"sensitivity": 0.0, "positive_predictivity": None,
        ...             "specificity": 1.0, "f1": 0.0, "support": 1}}
        >>> df = pd.DataFrame({"policy": ["full"], "seed": [0], "per_class": [pc], "counted": [["N"]],
        ...                    "kept_frac_by_class": [{"N": 1.0, "Q": 1.0}]})
        >>> per_class_table(df)[["class", "counted", "Se", "+P", "kept after warm-up"]].values.tolist()
        [['N', True, '0.900', '0.800', '1.000'], ['Q', False, '0.000', '–', '1.000']]
    """
    if "per_class" not in results_df.columns:
        return pd.DataFrame()
    rows = []
    for _, r in results_df.iterrows():
        kept = _mapping(r.get("kept_frac_by_class"))
        counted = _list(r.get("counted"))
        for cls, rates in _mapping(r["per_class"]).items():
            rows.append({"policy": r["policy"], "seed": r["seed"], "class": cls,
                         "counted": not counted or cls in counted, "support": rates.get("support"),
                         "kept": kept.get(cls), **{k: rates.get(k) for k, _ in _RATE_LABELS}})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    for col in ("kept", "support", *[k for k, _ in _RATE_LABELS]):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    g = df.groupby(["policy", "class"], sort=False)
    out = g[["counted"]].first().reset_index()
    out.insert(2, "seeds", g.size().to_numpy())
    for key, label in _RATE_LABELS:
        out[label] = [_pm(m, sd, 3) for m, sd in zip(g[key].mean(), g[key].std(ddof=1))]
    out["support"] = [_fmt_int(v) for v in g["support"].mean()]
    out["kept after warm-up"] = [format_cell(v) for v in g["kept"].mean()]
    return out


def confusion_tables(results_df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{policy: confusion matrix summed over its seeds}`` (rows = true class, columns = predicted; single-label).

    Example:
        >>> df = pd.DataFrame({"policy": ["full", "full"], "per_class": [{"a": {}, "b": {}}] * 2,
        ...                    "confusion": [[[3, 1], [0, 2]], [[1, 0], [1, 1]]]})
        >>> confusion_tables(df)["full"].values.tolist()
        [[4, 1], [1, 3]]
    """
    out: dict[str, pd.DataFrame] = {}
    if "confusion" not in results_df.columns or "per_class" not in results_df.columns:
        return out
    for _, r in results_df.iterrows():
        cm = np.asarray(_list(r["confusion"]))
        names = list(_mapping(r["per_class"]))
        if cm.ndim != 2 or cm.shape != (len(names), len(names)):
            continue  # multi-label (C, 2, 2) or missing
        frame = pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))
        out[r["policy"]] = frame if r["policy"] not in out else out[r["policy"]] + frame
    return out
