"""Did the ERTS focus filter drop the corrupted samples? Precision, recall and base rate from ground truth.

Reads a run's selection log (:meth:`erts_kit.selection.SelectionLog.to_dataframe`) and the data's
per-sample ground truth (``ECGData.meta``: ``class_true``, ``label_flipped``, ``artifact_kind``), as
the synthetic benchmark records it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..selection import Decision

__all__ = ["CANDIDATE", "FILTERED", "decision_names", "filter_precision_recall", "filter_table"]

#: Decisions that only the focus filter takes (a filter epoch has at least one of them).
FILTERED = ("DROPPED_LOW_FOCUS", "RESCUED")


#: Decisions of the rows the filter judged (its candidates).
CANDIDATE = ("KEPT", "DROPPED_LOW_FOCUS", "RESCUED")


def decision_names(dec: pd.Series) -> np.ndarray:
    """Decision names (``"KEPT"``, ``"DROPPED_LOW_FOCUS"``, ...) of a log column of codes or names.

    Example:
        >>> decision_names(pd.Series(["kept", "rescued"])).tolist()
        ['KEPT', 'RESCUED']
    """
    if pd.api.types.is_numeric_dtype(dec.dtype) and not isinstance(dec.dtype, pd.CategoricalDtype):
        return np.array([Decision(int(v)).name for v in dec.to_numpy()], dtype=object)
    return dec.astype(str).str.upper().to_numpy(dtype=object)


def filter_precision_recall(selection_log_df: pd.DataFrame, meta: pd.DataFrame) -> dict[str, Any]:
    """How well "dropped for low focus" finds the corrupted samples, over the epochs the ERTS filter ran.

    Counts are sample-epochs (a sample dropped in 3 filter epochs counts 3 times). Filter epochs are
    those with a DROPPED_LOW_FOCUS or RESCUED decision or a computed focus; the filter's candidates
    are the rows it judged (KEPT, DROPPED_LOW_FOCUS, RESCUED, and FLOOR rows with a focus: a
    candidate the class floor kept after the filter; rescued and floor-kept samples count as kept).

    - ``precision`` = corrupted among the dropped; compare with ``base_rate`` = corrupted among the
      candidates (what dropping at random would give);
    - ``recall`` = dropped among the corrupted candidates; ``recall_all`` = among every corrupted
      row of those epochs (PDD's confident drops included);
    - ``by_kind``: per kind of sample (``clean``, ``label_flip`` and each ``artifact_kind``):
      candidates, dropped and drop rate (a flipped sample with an artefact counts in both kinds);
    - ``by_class``: the same for the *clean* candidates of each true class (needs ``class_true`` in
      ``meta``; keys ``"<class> (<evidence_kind>)"``): are classes with diffuse evidence (AF, ST) dropped
      more often than those with one local event (PVC, PAC)?

    Args:
        selection_log_df: :meth:`SelectionLog.to_dataframe` (columns ``epoch, index, decision``;
            ``decision`` as names or :class:`~erts_kit.selection.Decision` values; ``focus`` optional).
        meta: per-sample ground truth indexed by dataset index, with a bool ``corrupted`` column
            (``flipped`` and ``artifact_kind`` optional), as :func:`~erts_kit.data.make_synthetic` gives.

    Returns:
        dict with ``precision, recall, recall_all, base_rate, n_candidates, n_dropped,
        n_corrupted_candidates, n_true_positive, epochs, by_kind, by_class``; rates are NaN where undefined
        (e.g. no filter epoch: a non-ERTS policy).

    Raises:
        ValueError: ``meta`` has no ``corrupted`` column (no ground truth: real databases).

    Example:
        >>> log = pd.DataFrame({"epoch": [3, 3, 3, 3], "index": [0, 1, 2, 3],
        ...                     "decision": ["DROPPED_LOW_FOCUS", "DROPPED_LOW_FOCUS", "KEPT", "KEPT"]})
        >>> meta = pd.DataFrame({"corrupted": [True, False, True, False]})
        >>> r = filter_precision_recall(log, meta)
        >>> r["precision"], r["recall"], r["base_rate"]
        (0.5, 0.5, 0.5)
    """
    if "corrupted" not in meta.columns:
        raise ValueError("meta has no 'corrupted' column: the filter's precision/recall needs ground truth "
                         "(the synthetic dataset has it; real databases do not).")
    for col in ("epoch", "index", "decision"):
        if col not in selection_log_df.columns:
            raise ValueError(f"Expected a selection log with columns epoch, index, decision, got "
                             f"{list(selection_log_df.columns)}: pass SelectionLog.to_dataframe().")
    df = selection_log_df
    dec = decision_names(df["decision"])
    idx = df["index"].to_numpy(np.int64)
    if len(idx) and idx.max() >= len(meta):
        raise ValueError(f"The log refers to dataset index {idx.max()}, but meta has {len(meta)} rows: pass "
                         "the meta of the whole dataset (data.meta), not of one split.")
    active = np.isin(dec, FILTERED)
    if "focus" in df.columns:
        active |= np.isfinite(df["focus"].to_numpy(np.float64))
    epochs = sorted(int(e) for e in np.unique(df["epoch"].to_numpy()[active]))
    in_ep = np.isin(df["epoch"].to_numpy(), epochs)
    corrupted = meta["corrupted"].to_numpy(bool)[idx]
    cand = in_ep & np.isin(dec, CANDIDATE)
    if "focus" in df.columns:  # a candidate the filter dropped and the class floor kept: judged, then kept
        cand |= in_ep & (dec == "FLOOR") & np.isfinite(df["focus"].to_numpy(np.float64))
    dropped = in_ep & (dec == "DROPPED_LOW_FOCUS")
    tp = int((dropped & corrupted).sum())
    n_cand, n_drop = int(cand.sum()), int(dropped.sum())
    n_cc = int((cand & corrupted).sum())
    n_corr_all = int((in_ep & corrupted).sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    kinds: dict[str, np.ndarray] = {"clean": ~corrupted}
    if "flipped" in meta.columns:
        kinds["label_flip"] = meta["flipped"].to_numpy(bool)[idx]
    if "artifact_kind" in meta.columns:
        ak = meta["artifact_kind"].astype(str).to_numpy()[idx]
        for k in sorted(set(ak) - {"none"}):
            kinds[k] = ak == k
    def rates(groups: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        return {k: {"n_candidates": int((cand & m).sum()), "n_dropped": int((dropped & m).sum()),
                    "drop_rate": ratio(int((dropped & m).sum()), int((cand & m).sum()))} for k, m in groups.items()}

    classes: dict[str, np.ndarray] = {}
    if "class_true" in meta.columns:
        true_cls = meta["class_true"].astype(str).to_numpy()[idx]
        evidence = (meta["evidence_kind"].astype(str).to_numpy()[idx] if "evidence_kind" in meta.columns
                    else np.full(len(idx), "?", dtype=object))
        for c in pd.unique(meta["class_true"].astype(str)):
            m = true_cls == c
            ev = evidence[m][0] if m.any() else "?"
            classes[f"{c} ({ev})"] = m & ~corrupted
    return {"precision": ratio(tp, n_drop), "recall": ratio(tp, n_cc), "recall_all": ratio(tp, n_corr_all),
            "base_rate": ratio(n_cc, n_cand), "n_candidates": n_cand, "n_dropped": n_drop,
            "n_corrupted_candidates": n_cc, "n_true_positive": tp, "epochs": epochs, "by_kind": rates(kinds),
            "by_class": rates(classes)}


def filter_table(stats: Mapping[str, Any]) -> pd.DataFrame:
    """The ``by_kind`` part of :func:`filter_precision_recall` as a table (one row per kind).

    Example:
        >>> filter_table({"by_kind": {"clean": {"n_candidates": 4, "n_dropped": 1, "drop_rate": 0.25}}}).to_dict("index")
        {'clean': {'n_candidates': 4, 'n_dropped': 1, 'drop_rate': 0.25}}
    """
    out = pd.DataFrame.from_dict(dict(stats.get("by_kind") or {}), orient="index",
                                 columns=["n_candidates", "n_dropped", "drop_rate"])
    out.index.name = "kind"
    return out
