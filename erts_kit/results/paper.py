"""The published results of the ERTS paper, as a small constant table, for side-by-side comparisons.

Source: Dangeti, Gu, Weng, Gowda, "Using Explainability as a Training-Time Reliability Signal for
Efficient ECG Classification", arXiv 2606.12252 (2026) — the best PDD variant against ERTS for each
dataset and backbone (DESIGN.md "Published results"). PDD itself: Progressive Data Dropout,
arXiv 2505.22342 (NeurIPS 2025).

The published effective epochs (EE) count only the samples that went through a training forward +
backward; they leave out the scoring forward passes and the Grad-CAM passes, so they are NOT
compute-equivalent epochs (see :class:`erts_kit.selection.CostLedger`). The paper publishes no
wall-clock and no compute-equivalent epochs: those columns cannot be filled from it.

Example:
    >>> published_results().shape
    (10, 6)
    >>> float(published_results(wide=True).loc[("PTB-XL", "ResNet-18"), "delta_macro_f1"])
    0.0085
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import summarise

__all__ = ["BACKBONE_MODELS", "COMPARE_COLUMNS", "ERTS_CITATION", "PDD_CITATION", "PUBLISHED_RESULTS", "compare_with_published",
           "published_results"]

ERTS_CITATION = ("Dangeti, Gu, Weng, Gowda. Using Explainability as a Training-Time Reliability Signal for "
                 "Efficient ECG Classification. arXiv 2606.12252, 2026.")
PDD_CITATION = "Progressive Data Dropout. arXiv 2505.22342, NeurIPS 2025."

#: (dataset, backbone, best-PDD macro-F1, best-PDD EE, ERTS macro-F1, ERTS EE), as published.
PUBLISHED_RESULTS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("PTB-XL", "ResNet-18", 0.6539, 22.3, 0.6624, 19.3),
    ("PTB-XL", "EfficientNetV2-S", 0.6488, 21.8, 0.6586, 18.9),
    ("PTB-XL", "MobileNetV2", 0.6336, 21.6, 0.6420, 18.7),
    ("CPSC 2018", "EfficientNetV2-S", 0.7166, 23.8, 0.7188, 19.4),
    ("Georgia 2020", "ResNet-18", 0.6521, 40.3, 0.6569, 34.0),
)

#: kit model names of the paper's backbones (the 2-D versions over the 12 x T "image").
BACKBONE_MODELS = {"ResNet-18": "resnet18_2d", "EfficientNetV2-S": "efficientnetv2s_2d",
                   "MobileNetV2": "mobilenetv2_2d"}


def published_results(wide: bool = False) -> pd.DataFrame:
    """The paper's results table (best PDD variant vs ERTS), as a DataFrame.

    Args:
        wide: False (default): one row per (dataset, backbone, method), columns ``dataset, backbone,
            model, method ('best PDD' | 'ERTS'), macro_f1, effective_epochs``. True: one row per
            (dataset, backbone) (MultiIndex), columns ``pdd_macro_f1, erts_macro_f1, delta_macro_f1,
            pdd_ee, erts_ee, ee_saving`` (``ee_saving = 1 - erts_ee / pdd_ee``, as a fraction).

    Returns:
        a new DataFrame (edit it freely; the constant table is not touched).

    Example:
        >>> long = published_results()
        >>> long.loc[long.method == "ERTS", "effective_epochs"].tolist()
        [19.3, 18.9, 18.7, 19.4, 34.0]
        >>> round(float(published_results(wide=True)["ee_saving"].iloc[0]), 4)   # 1 - 19.3 / 22.3
        0.1345
    """
    if not isinstance(wide, bool):
        raise TypeError(f"Expected wide to be True or False, got {wide!r} ({type(wide).__name__}).")
    rows = []
    for dataset, backbone, pdd_f1, pdd_ee, erts_f1, erts_ee in PUBLISHED_RESULTS:
        for method, f1, ee in (("best PDD", pdd_f1, pdd_ee), ("ERTS", erts_f1, erts_ee)):
            rows.append({"dataset": dataset, "backbone": backbone, "model": BACKBONE_MODELS[backbone],
                         "method": method, "macro_f1": f1, "effective_epochs": ee})
    long = pd.DataFrame(rows)
    if not wide:
        return long
    out = pd.DataFrame([{"dataset": d, "backbone": b, "pdd_macro_f1": pf, "erts_macro_f1": ef,
                         "delta_macro_f1": round(ef - pf, 4), "pdd_ee": pe, "erts_ee": ee,
                         "ee_saving": 1.0 - ee / pe}
                        for d, b, pf, pe, ef, ee in PUBLISHED_RESULTS])
    return out.set_index(["dataset", "backbone"])


_PDD_POLICIES = ("dbpd", "smrd", "srd")
_ERTS_POLICIES = ("xai_dbpd", "xai_smrd", "xai_srd")
#: columns of :func:`compare_with_published`.
COMPARE_COLUMNS = ["source", "dataset", "backbone", "pdd_policy", "pdd_macro_f1", "erts_policy", "erts_macro_f1",
                   "delta_macro_f1", "pdd_ee", "erts_ee", "ee_saving", "pdd_compute_epochs", "erts_compute_epochs",
                   "compute_saving", "n_seeds"]


def _best(group: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    """The row of the policy (among ``names``) with the highest mean macro-F1, or None if none ran."""
    rows = group[group["policy"].isin(names)]
    return None if rows.empty else rows.loc[rows["macro_f1_mean"].idxmax()]


def compare_with_published(results_df: pd.DataFrame) -> pd.DataFrame:
    """Put a grid's results next to the paper's table, in the paper's form: best PDD variant vs best ERTS variant.

    For each (dataset, model) of ``results_df``, "best" is the variant with the highest mean test
    macro-F1 over seeds, among ``dbpd, smrd, srd`` (PDD) and among ``xai_dbpd, xai_smrd, xai_srd``
    (ERTS), as the paper reports its best PDD variant. Our rows also carry compute-equivalent epochs
    (scoring and Grad-CAM passes counted), which the paper does not publish (NaN in its rows).

    Args:
        results_df: :func:`erts_kit.results.run_grid`'s table (columns ``dataset, model, policy,
            seed, macro_f1, effective_epochs, compute_equivalent_epochs``), one or several grids concatenated.

    Returns:
        DataFrame with :data:`COMPARE_COLUMNS`: the published rows (``source == "published"``) then ours
        (``source == "this run"``); ``ee_saving = 1 - erts_ee / pdd_ee`` and ``compute_saving`` likewise.
        A (dataset, model) without a PDD or an ERTS run is left out.

    Raises:
        ValueError: a required column is missing.

    Example:
        >>> df = pd.DataFrame({"dataset": "synthetic", "model": "small_cnn",
        ...                    "policy": ["dbpd", "srd", "xai_dbpd"], "seed": 42, "macro_f1": [0.6, 0.5, 0.7],
        ...                    "effective_epochs": [20.0, 25.0, 16.0], "compute_equivalent_epochs": [26.0, 25.0, 24.0]})
        >>> row = compare_with_published(df).iloc[-1]
        >>> row["pdd_policy"], row["erts_policy"], round(float(row["delta_macro_f1"]), 3), round(float(row["ee_saving"]), 3)
        ('dbpd', 'xai_dbpd', 0.1, 0.2)
    """

    need = ["dataset", "model", "policy", "seed", "macro_f1", "effective_epochs", "compute_equivalent_epochs"]
    missing = [c for c in need if c not in getattr(results_df, "columns", [])]
    if missing:
        raise ValueError(f"Expected run_grid's results table with columns {need}, missing {missing}.")
    published = published_results(wide=True).reset_index()
    rows = [{"source": "published", "dataset": r.dataset, "backbone": r.backbone, "pdd_policy": "best PDD",
             "pdd_macro_f1": r.pdd_macro_f1, "erts_policy": "ERTS", "erts_macro_f1": r.erts_macro_f1,
             "delta_macro_f1": r.delta_macro_f1, "pdd_ee": r.pdd_ee, "erts_ee": r.erts_ee,
             "ee_saving": r.ee_saving, "pdd_compute_epochs": np.nan, "erts_compute_epochs": np.nan,
             "compute_saving": np.nan, "n_seeds": np.nan} for r in published.itertuples()]
    summary = summarise(results_df)
    for (dataset, model), group in summary.groupby(["dataset", "model"], sort=False):
        pdd, erts = _best(group, _PDD_POLICIES), _best(group, _ERTS_POLICIES)
        if pdd is None or erts is None:
            continue
        rows.append({"source": "this run", "dataset": dataset, "backbone": model, "pdd_policy": pdd["policy"],
                     "pdd_macro_f1": pdd["macro_f1_mean"], "erts_policy": erts["policy"],
                     "erts_macro_f1": erts["macro_f1_mean"],
                     "delta_macro_f1": erts["macro_f1_mean"] - pdd["macro_f1_mean"],
                     "pdd_ee": pdd["effective_epochs_mean"], "erts_ee": erts["effective_epochs_mean"],
                     "ee_saving": 1.0 - erts["effective_epochs_mean"] / pdd["effective_epochs_mean"],
                     "pdd_compute_epochs": pdd["compute_equivalent_epochs_mean"],
                     "erts_compute_epochs": erts["compute_equivalent_epochs_mean"],
                     "compute_saving": 1.0 - erts["compute_equivalent_epochs_mean"] / pdd["compute_equivalent_epochs_mean"],
                     "n_seeds": int(min(pdd["n_seeds"], erts["n_seeds"]))})
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
