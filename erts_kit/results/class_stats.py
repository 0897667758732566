"""Per-class numbers of one finished run, for its results row: EC57 rates, confusion, per record, kept share.

:func:`class_columns` turns a :class:`~erts_kit.training.TrainResult` into the JSON-safe entries that
:func:`~erts_kit.results.run_grid` keeps in ``results.csv`` / ``results.json``:

- ``counted``, ``macro_f1_all``: which classes the headline ``macro_f1`` averages (N, S, V, F for
  the AAMI beat classes, see :mod:`erts_kit.metrics`) and the macro-F1 over every class;
- ``per_class``: ``{class: {sensitivity, positive_predictivity, specificity, f1, support}}`` on the
  test split (:func:`erts_kit.ec57.class_rates`; None where a ratio is undefined);
- ``confusion``: the test confusion matrix (rows = true class; multi-label: one ``[[tn, fp], [fn, tp]]``
  per class);
- ``per_record``: EC57's per-record Se / +P (single-label data whose ``meta`` has a ``record`` column);
- ``kept_frac_by_class``: the share of each class's sample-epochs trained on, over the epochs from
  the policy's warm-up on (every epoch for the full-data policy).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data import ECGData
from ..ec57 import class_rates, ec57_report
from .run_folder import jsonable

__all__ = ["class_columns", "kept_frac_by_class", "multilabel_rates"]


def multilabel_rates(confusion: Any, class_names: Sequence[str]) -> pd.DataFrame:
    """Se, +P, specificity, F1, support per class from sklearn's (C, 2, 2) ``[[tn, fp], [fn, tp]]`` matrices.

    Example:
        >>> multilabel_rates([[[5, 1], [2, 2]]], ["AF"]).round(3).loc["AF"].tolist()
        [0.5, 0.667, 0.833, 0.571, 4.0]
    """
    m = np.asarray(confusion, dtype=float)
    rows = {}
    for c, name in enumerate(class_names):
        (tn, fp), (fn, tp) = m[c]
        rows[str(name)] = class_rates([[tp, fn], [fp, tn]], [str(name), "rest"]).loc[str(name)]
    out = pd.DataFrame(rows).T
    out.index.name = "class"
    return out


def kept_frac_by_class(log_df: pd.DataFrame, labels: Any, class_names: Sequence[str], from_epoch: int = 0
                       ) -> dict[str, float]:
    """``{class: kept rows / rows}`` of a selection log over epochs >= ``from_epoch`` (NaN: no row).

    Example:
        >>> log = pd.DataFrame({"epoch": [0, 1, 1, 1], "index": [0, 0, 1, 2], "kept": [True, False, True, True]})
        >>> kept_frac_by_class(log, [0, 1, 1], ["a", "b"], from_epoch=1)
        {'a': 0.0, 'b': 1.0}
    """
    df = log_df[log_df["epoch"] >= from_epoch]
    lab = np.asarray(labels)
    idx = df["index"].to_numpy(np.int64)
    hot = lab[idx] > 0.5 if lab.ndim == 2 else np.eye(len(class_names), dtype=bool)[lab[idx].astype(np.int64)]
    kept = df["kept"].to_numpy(bool)
    out = {}
    for c, name in enumerate(class_names):
        seen = int(hot[:, c].sum())
        out[str(name)] = float((hot[:, c] & kept).sum()) / seen if seen else float("nan")
    return out


def class_columns(res: Any, data: ECGData, warm_up: int) -> dict[str, Any]:
    """The per-class entries of a run's results row (module docstring); empty parts without a test split."""
    names = [str(c) for c in data.class_names]
    row: dict[str, Any] = {}
    test = res.test_metrics or {}
    if "confusion_matrix" in test:
        cm = np.asarray(test["confusion_matrix"])
        rates = multilabel_rates(cm, names) if data.multilabel else class_rates(cm, names)
        row["counted"] = list(test.get("counted", names))
        row["macro_f1_all"] = float(test.get("macro_f1_all", test.get("macro_f1", float("nan"))))
        row["per_class"] = jsonable({c: {k: (int(v) if k == "support" else float(v)) for k, v in r.items()}
                                     for c, r in rates.iterrows()})
        row["confusion"] = cm.astype(int).tolist()
    extra = getattr(res, "extra", None) or {}
    if (not data.multilabel and "test_probabilities" in extra and data.meta is not None
            and "record" in data.meta.columns):
        idx = np.asarray(extra["test_indices"])
        report = ec57_report(np.asarray(data.labels)[idx], np.asarray(extra["test_probabilities"]).argmax(1), names,
                             counted=None, records=data.meta["record"].to_numpy()[idx])
        row["per_record"] = report.to_dict()["per_record"]
    if res.selection_log is not None and len(res.selection_log):
        row["kept_frac_by_class"] = jsonable(kept_frac_by_class(res.selection_log.to_dataframe(), data.labels,
                                                                names, warm_up))
    return row
