"""An AAMI EC57-style report for heartbeat classifiers: Se, +P, specificity and F1 per class.

ANSI/AAMI EC57 scores beat classifiers per class with *sensitivity* (Se = TP / (TP + FN)) and
*positive predictivity* (+P = TP / (TP + FP)), pooled over all beats ("gross" statistics) and per
record. The inter-patient literature (de Chazal et al. 2004 and after) reports these for the AAMI
classes N, S, V, F and leaves Q out of the averages: Q (paced and unclassifiable beats) is rare in
MIT-BIH (8 beats in DS1, 7 in DS2), so its F1 is mostly noise. :func:`ec57_report` follows that:
Q is reported in every table but the macro-F1 averages the *counted* classes only (N, S, V, F by
default), and ``per_class["counted"]`` says which.

Undefined ratios are NaN, never 0 and never an error, with a fixed meaning:

* ``sensitivity`` NaN: the class has no true beat (nothing to detect);
* ``positive_predictivity`` NaN: the class is never predicted;
* ``specificity`` NaN: every beat is of that class (no negative beat);
* ``f1`` NaN: the class is neither present nor predicted; such a class is left out of the
  macro-F1 (a class present but never predicted, or predicted but absent, has F1 = 0).
* ``macro_f1`` NaN: no counted class has a defined F1.

Example:
    >>> r = ec57_report([0, 0, 1, 2], [0, 1, 1, 2], ["N", "S", "V", "F", "Q"])
    >>> r.per_class.loc["S", ["sensitivity", "positive_predictivity"]].tolist()
    [1.0, 0.5]
    >>> round(r.macro_f1, 4)  # over N, S, V (F and Q absent and never predicted: F1 undefined)
    0.7778
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AAMI_BEAT_CLASSES", "EC57_COUNTED", "EC57Report", "class_rates", "default_counted", "ec57_report"]

EC57_COUNTED: tuple[str, ...] = ("N", "S", "V", "F")
AAMI_BEAT_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")


def default_counted(class_names: Sequence[str]) -> tuple[str, ...]:
    """The classes a headline macro-F1 averages: N, S, V, F for the AAMI beat classes, else every class.

    Example:
        >>> default_counted(["N", "S", "V", "F", "Q"]), default_counted(["NORM", "MI"])
        (('N', 'S', 'V', 'F'), ('NORM', 'MI'))
    """
    names = tuple(str(n) for n in class_names)
    return EC57_COUNTED if sorted(names) == sorted(AAMI_BEAT_CLASSES) else names


@dataclass(frozen=True)
class EC57Report:
    """The result of :func:`ec57_report`.

    Attributes:
        per_class: DataFrame indexed by class name with ``sensitivity``, ``positive_predictivity``,
            ``specificity``, ``f1`` (NaN where undefined, see the module docstring), ``support`` (true
            beats of the class) and ``counted`` (whether the class enters the macro-F1).
        macro_f1: mean F1 over the counted classes whose F1 is defined.
        confusion: DataFrame of beat counts, rows = true class, columns = predicted class.
        per_record: DataFrame indexed by record: ``beats``, then ``Se_<class>`` and ``+P_<class>``
            for each class (NaN where undefined); None when no record ids were given.
        counted: the class names averaged in ``macro_f1``.
    """

    per_class: pd.DataFrame
    macro_f1: float
    confusion: pd.DataFrame
    per_record: pd.DataFrame | None
    counted: tuple[str, ...]

    @property
    def note(self) -> str:
        """One line saying what the macro-F1 averages, for table captions."""
        left_out = [c for c in self.per_class.index if c not in self.counted]
        note = f"macro-F1 over {', '.join(self.counted)}"
        return note + (f"; {', '.join(left_out)} reported, not counted" if left_out else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN becomes None; numpy scalars become Python numbers).

        Example:
            >>> import json
            >>> d = ec57_report([0, 1], [0, 0], ["N", "S"], counted=("N", "S")).to_dict()
            >>> d["per_class"]["S"]["positive_predictivity"] is None, json.dumps(d) != ""
            (True, True)
        """
        per_record = None
        if self.per_record is not None:
            per_record = {str(rec): {col: _json_number(v) for col, v in row.items()}
                          for rec, row in self.per_record.iterrows()}
        return {
            "counted": list(self.counted),
            "note": self.note,
            "macro_f1": _json_number(self.macro_f1),
            "per_class": {str(name): {col: (bool(v) if col == "counted" else _json_number(v)) for col, v in row.items()}
                          for name, row in self.per_class.iterrows()},
            "confusion": {"classes": [str(c) for c in self.confusion.index],
                          "counts": self.confusion.to_numpy().astype(int).tolist()},
            "per_record": per_record,
        }


def _json_number(value: Any) -> float | int | None:
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den == 0 (no warning)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def class_rates(confusion: Any, class_names: Sequence[str]) -> pd.DataFrame:
    """Se, +P, specificity, F1 and support per class from a (C, C) confusion matrix (rows = true).

    Args:
        confusion: (C, C) counts, rows = true class, columns = predicted class.
        class_names: the C names, in row order.

    Returns:
        DataFrame indexed by class name; NaN where a ratio is undefined (see the module docstring).

    Raises:
        ValueError: a matrix that is not (C, C) for C names, or holds negative counts.

    Example:
        >>> t = class_rates([[3, 1], [0, 2]], ["N", "V"])
        >>> t.loc["N"].round(3).tolist()  # Se 3/4, +P 3/3, Sp 2/2, F1 6/7, support 4
        [0.75, 1.0, 1.0, 0.857, 4.0]
    """
    cm = np.asarray(confusion)
    c = len(class_names)
    if cm.shape != (c, c):
        raise ValueError(f"Expected a ({c}, {c}) confusion matrix for {c} class names, got shape {cm.shape}: "
                         "pass one row and one column per class, rows = true class.")
    if (cm < 0).any():
        raise ValueError("Expected non-negative beat counts in the confusion matrix, got a negative entry.")
    cm = cm.astype(float)
    tp = np.diag(cm)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    return pd.DataFrame({
        "sensitivity": _ratio(tp, tp + fn),
        "positive_predictivity": _ratio(tp, tp + fp),
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "support": (tp + fn).astype(int),
    }, index=pd.Index([str(n) for n in class_names], name="class"))


def _as_indices(values: Any, class_names: Sequence[str], what: str) -> np.ndarray:
    """Class ids (N,) from ids or from class-name strings; clear error otherwise."""
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        hint = " (one-hot or probabilities? take .argmax(1))" if arr.ndim == 2 else ""
        raise ValueError(f"Expected {what} of shape (N,) holding one class per beat, got {arr.shape}{hint}.")
    if arr.dtype.kind in "USO":
        lookup = {str(n): i for i, n in enumerate(class_names)}
        unknown = sorted({str(v) for v in arr} - set(lookup))
        if unknown:
            raise ValueError(f"Expected {what} to hold class names among {list(class_names)}, got {unknown[:5]}.")
        return np.array([lookup[str(v)] for v in arr], dtype=np.int64)
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= len(class_names)):
        raise ValueError(f"Expected {what} to hold integer class ids in [0, {len(class_names) - 1}], got dtype "
                         f"{arr.dtype}, range [{arr.min()}, {arr.max()}].")
    return arr.astype(np.int64)


def _confusion(yt: np.ndarray, yp: np.ndarray, c: int) -> np.ndarray:
    return np.bincount(yt * c + yp, minlength=c * c).reshape(c, c)


def _per_record(yt: np.ndarray, yp: np.ndarray, records: Any, class_names: Sequence[str]) -> pd.DataFrame:
    rec = np.asarray(records).astype(str)
    if rec.shape != yt.shape:
        raise ValueError(f"Expected records of shape {yt.shape} (one record id per beat), got {rec.shape}.")
    rows = {}
    for name in sorted(set(rec.tolist())):
        mask = rec == name
        rates = class_rates(_confusion(yt[mask], yp[mask], len(class_names)), class_names)
        row: dict[str, float] = {"beats": int(mask.sum())}
        for cls in rates.index:
            row[f"Se_{cls}"] = rates.at[cls, "sensitivity"]
            row[f"+P_{cls}"] = rates.at[cls, "positive_predictivity"]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("record").astype({"beats": int})


def _check_counted(counted: Sequence[str] | None, class_names: Sequence[str]) -> tuple[str, ...]:
    if counted is None:
        return tuple(str(n) for n in class_names)
    if isinstance(counted, str):
        raise TypeError(f"Expected counted as a sequence of class names, e.g. ('N', 'S'), got the string {counted!r}.")
    counted = tuple(str(n) for n in counted)
    unknown = [n for n in counted if n not in [str(c) for c in class_names]]
    if unknown or not counted:
        raise ValueError(f"Expected counted to name some of the classes {list(class_names)}, got {list(counted)}: "
                         "pass counted=None to average over every class.")
    return counted


def ec57_report(y_true: Any, y_pred: Any, class_names: Sequence[str], *,
                counted: Sequence[str] | None = EC57_COUNTED, records: Any = None) -> EC57Report:
    """Score beat predictions the AAMI EC57 way: per-class Se, +P, specificity, F1; macro-F1 over N, S, V, F.

    Args:
        y_true: (N,) true classes, as ids into ``class_names`` or as class names.
        y_pred: (N,) predicted classes, same form.
        class_names: names of the C classes in id order (the AAMI classes: N, S, V, F, Q).
        counted: classes averaged in ``macro_f1`` (default N, S, V, F: Q is reported but left out,
            as in the inter-patient literature); None counts every class.
        records: optional (N,) record id per beat, for the per-record breakdown.

    Returns:
        :class:`EC57Report`. NaN marks an undefined ratio (see the module docstring), never an error.

    Raises:
        ValueError: shapes that differ, ids out of range, unknown class names in ``counted``.

    Example:
        >>> r = ec57_report(["N", "N", "V", "Q"], ["N", "V", "V", "N"], ["N", "S", "V", "F", "Q"],
        ...                 records=["100", "100", "101", "101"])
        >>> r.per_class["counted"].tolist(), r.note
        ([True, True, True, True, False], 'macro-F1 over N, S, V, F; Q reported, not counted')
        >>> r.per_record.loc["101", ["beats", "Se_V", "+P_N"]].tolist()
        [2.0, 1.0, 0.0]
    """
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("Expected at least one class name, got none.")
    yt = _as_indices(y_true, names, "y_true")
    yp = _as_indices(y_pred, names, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"Expected y_true and y_pred of the same length, got {yt.shape[0]} and {yp.shape[0]}.")
    kept = _check_counted(counted, names)
    cm = _confusion(yt, yp, len(names))
    per_class = class_rates(cm, names)
    per_class["counted"] = [n in kept for n in names]
    f1 = per_class.loc[list(kept), "f1"].to_numpy(dtype=float)
    macro = float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")
    confusion = pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))
    per_record = None if records is None else _per_record(yt, yp, records, names)
    return EC57Report(per_class=per_class, macro_f1=macro, confusion=confusion, per_record=per_record, counted=kept)
