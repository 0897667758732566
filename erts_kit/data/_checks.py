"""The checks :class:`erts_kit.data.ECGData` runs on its labels, splits and signals.

Errors say what was expected, what came and how to fix it; problems that may be intended (an empty
split, a class without training samples, more leads than time steps) are returned as warning texts.

Example:
    >>> check_splits({"train": [0, 1], "test": [2]}, n=3)["test"]
    array([2])
    >>> check_splits({"train": np.array([True, False, True])}, n=3)
    Traceback (most recent call last):
    ...
    ValueError: Expected splits['train'] as integer dataset indices, got a boolean mask of length 3: pass np.flatnonzero(mask) (the indices where it is True).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

__all__ = ["check_labels", "check_splits", "non_finite_indices", "warn_shape_and_coverage"]


def _one(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _some(values: np.ndarray, limit: int = 5) -> str:
    values = np.asarray(values).ravel()
    return ", ".join(_one(v) for v in values[:limit]) + (", ..." if values.size > limit else "")


def check_labels(labels: Any, n: int, class_names: Sequence[str]) -> np.ndarray:
    """Labels as an array: (N,) integer class ids in range, or (N, C) multi-hot 0/1.

    Whole-number floats and booleans are converted (to int64 for class ids, float32 for multi-hot).

    Raises:
        ValueError: wrong length or shape, strings, NaN/inf, fractional ids, ids out of range,
            multi-hot values other than 0 and 1.

    Example:
        >>> check_labels([0.0, 1.0], 2, ["a", "b"]).tolist()
        [0, 1]
        >>> check_labels([0, 1.5], 2, ["a", "b"])
        Traceback (most recent call last):
        ...
        ValueError: Expected integer class ids in [0, 1], got fractional labels (e.g. 1.5): round or map them to class ids.
    """
    y = np.asarray(labels)
    n_classes = len(class_names)
    if y.ndim == 0 or y.shape[0] != n:
        got = "a scalar" if y.ndim == 0 else y.shape[0]
        raise ValueError(f"Expected {n} labels (one per signal), got {got}.")
    if y.ndim not in (1, 2):
        raise ValueError(f"Expected labels of shape (N,) or (N, C), got {y.shape}.")
    what = f"class ids in [0, {n_classes - 1}]" if y.ndim == 1 else "multi-hot labels of 0 and 1"
    if y.dtype.kind == "O":  # e.g. a pandas object column: numbers pass, anything else is refused below
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            y = y.astype(str)
    if y.dtype.kind in "USV":
        raise ValueError(f"Expected integer {what}, got strings or non-numbers (e.g. {_some(y, 3)}): map names to "
                         f"ids, e.g. [class_names.index(s) for s in labels] with class_names={list(class_names)}.")
    if y.dtype.kind == "c":
        raise ValueError(f"Expected integer {what}, got complex numbers (dtype {y.dtype}).")
    if y.dtype.kind == "f" and y.size:
        bad = ~np.isfinite(y)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(n, -1).any(1))
            raise ValueError(f"Expected {what}, got {rows.size} label(s) NaN/inf (samples {_some(rows)}): drop "
                             f"those samples or give them a class.")
    if y.ndim == 1:
        if y.dtype.kind == "f" and y.size:
            frac = y[y != np.round(y)]
            if frac.size:
                raise ValueError(f"Expected integer {what}, got fractional labels (e.g. {_some(frac, 3)}): round or "
                                 f"map them to class ids.")
        if y.dtype.kind in "fb":
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"Expected class ids in [0, {n_classes - 1}], got range [{y.min()}, {y.max()}]: "
                             f"check class_names.")
        return y
    if y.shape[1] != n_classes:
        raise ValueError(f"Expected multi-label width {n_classes}, got {y.shape[1]}.")
    if y.dtype.kind == "b":
        return y.astype(np.float32)
    odd = y[(y != 0) & (y != 1)]
    if odd.size:
        raise ValueError(f"Expected {what} (one column per class), got other values (e.g. {_some(odd, 3)}): "
                         f"threshold or binarise them, e.g. (labels > 0.5).astype('float32').")
    return y


def check_splits(splits: Any, n: int) -> dict[Any, np.ndarray]:
    """Splits as int64 index arrays: 1-D integer indices in [0, n-1], no duplicates, pairwise disjoint.

    Raises:
        ValueError: a boolean mask, non-integer indices, negative or too large indices, a repeated
            index, or an index in two splits; the message names the split(s) and the fix.
        TypeError: ``splits`` is not a mapping.

    Example:
        >>> check_splits({"train": [0, 1], "val": [1]}, n=3)
        Traceback (most recent call last):
        ...
        ValueError: Expected disjoint splits, got 1 dataset index in both 'train' and 'val' (1): a sample in two splits leaks between them; remove it from one.
    """
    if not isinstance(splits, Mapping):
        raise TypeError(f"Expected splits as a dict of split name -> dataset indices, got {type(splits).__name__}: "
                         f"e.g. {{'train': np.arange(80), 'test': np.arange(80, 100)}}.")
    out: dict[Any, np.ndarray] = {}
    for name, value in splits.items():
        where = f"splits[{name!r}]"
        idx = np.asarray(value)
        if idx.ndim != 1:
            raise ValueError(f"Expected {where} as a 1-D array of dataset indices, got shape {idx.shape}: pass a list "
                             f"or a 1-D array (np.ravel).")
        if idx.dtype == bool:
            raise ValueError(f"Expected {where} as integer dataset indices, got a boolean mask of length {idx.size}: "
                             f"pass np.flatnonzero(mask) (the indices where it is True).")
        if idx.size and idx.dtype.kind not in "iu":
            hint = (" convert whole numbers with .astype(np.int64)" if idx.dtype.kind == "f"
                    else " pass integer positions 0..N-1, not record ids or names")
            raise ValueError(f"Expected {where} as integer dataset indices, got dtype {idx.dtype} "
                             f"(e.g. {_some(idx, 3)}):{hint}.")
        if idx.size and idx.min() < 0:
            neg = idx[idx < 0]
            raise ValueError(f"Expected dataset indices >= 0 in {where}, got {neg.size} negative "
                             f"(e.g. {_some(neg, 3)}): a negative index wraps to the end of the set (a sample of another split); use "
                             f"positions 0..{n - 1}.")
        if idx.size and idx.max() >= n:
            big = idx[idx >= n]
            raise ValueError(f"Expected dataset indices in [0, {n - 1}] in {where} (the set holds {n} samples), got "
                             f"{big.size} beyond it (e.g. {_some(big, 3)}): build the split for this data.")
        uniq, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            rep = uniq[counts > 1]
            raise ValueError(f"Expected each dataset index once in {where}, got {rep.size} repeated (e.g. "
                             f"{_some(rep, 3)}): remove the repeats with np.unique.")
        out[name] = idx.astype(np.int64, copy=False)
    for (a, ia), (b, ib) in combinations(out.items(), 2):
        common = np.intersect1d(ia, ib)
        if common.size:
            noun = "dataset index" if common.size == 1 else "dataset indices"
            raise ValueError(f"Expected disjoint splits, got {common.size} {noun} in both {a!r} and {b!r} "
                             f"({_some(common)}): a sample in two splits leaks between them; remove it from one.")
    return out


def non_finite_indices(signals: np.ndarray, indices: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The dataset indices among ``indices`` whose signal holds a NaN or inf (read ``chunk`` at a time).

    Example:
        >>> x = np.zeros((3, 1, 4), np.float32); x[2, 0, 1] = np.inf
        >>> non_finite_indices(x, np.array([0, 2])).tolist()
        [2]
    """
    indices = np.asarray(indices, dtype=np.int64)
    bad = []
    for start in range(0, indices.size, chunk):
        part = indices[start:start + chunk]
        block = np.asarray(signals[np.sort(part)])
        rows = ~np.isfinite(block).reshape(len(part), -1).all(1)
        bad.append(np.sort(part)[rows])
    return np.sort(np.concatenate(bad)) if bad else np.zeros(0, np.int64)


def warn_shape_and_coverage(shape: tuple[int, ...], labels: np.ndarray, class_names: Sequence[str],
                            splits: Mapping[Any, np.ndarray]) -> list[str]:
    """Warning texts for data that is allowed but probably a mistake (empty list: nothing odd).

    Example:
        >>> warn_shape_and_coverage((4, 1, 50), np.array([0, 0, 1, 1]), ["a", "b"], {"train": np.array([0, 1])})
        ["Class 'b' has no training sample (splits['train'] holds 2 samples): the model cannot learn it; re-split stratified by class (e.g. erts_kit.data.synthetic.stratified_split)."]
    """
    out: list[str] = []
    _, leads, steps = shape
    if leads > steps:
        out.append(f"ECG signals of shape {tuple(shape)} have more leads ({leads}) than time steps ({steps}): they "
                   f"look like (N, T, leads); ECGData expects (N, leads, T): transpose with x.transpose(0, 2, 1).")
    for name, idx in splits.items():
        if idx.size == 0:
            out.append(f"Split {name!r} is empty: metrics on it will be undefined; give it samples or drop it.")
    train = splits.get("train")
    if train is not None and train.size and len(class_names):
        y = labels[train]
        counts = y.sum(0) if y.ndim == 2 else np.bincount(y, minlength=len(class_names))
        missing = [class_names[i] for i in np.flatnonzero(np.asarray(counts) == 0)]
        if missing:
            which = (f"Class {missing[0]!r} has" if len(missing) == 1
                     else f"Classes {', '.join(map(repr, missing))} have")
            out.append(f"{which} no training sample (splits['train'] holds {train.size} samples): the model cannot "
                       f"learn it; re-split stratified by class (e.g. erts_kit.data.synthetic.stratified_split).")
    return out
