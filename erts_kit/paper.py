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

import pandas as pd

__all__ = ["ERTS_CITATION", "PDD_CITATION", "PUBLISHED_RESULTS", "published_results"]

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
