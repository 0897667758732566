"""The one in-memory container every reader returns, and the torch Dataset over it.

Every reader (synthetic, PTB-XL, CinC 2020, MIT-BIH) gives an :class:`ECGData`; every training run,
explanation and selection log keys samples by their position in it (the *dataset index*).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from .._validation import check_choice, check_signals
from ._checks import (
    check_labels,
    check_splits,
    non_finite_indices,
    warn_shape_and_coverage,
)


@dataclass
class ECGData:
    """A labelled ECG set: signals, labels, splits and per-sample metadata.

    Attributes:
        signals: float32 array (N, leads, T); may be a read-only memory map.
        labels: int64 (N,) class ids, or float32 (N, C) multi-hot for multi-label tasks.
        class_names: names of the C classes, in id order.
        fs: sampling rate in Hz.
        lead_names: names of the leads, in axis order.
        meta: one row per sample (record id, corruption flags, ...), index 0..N-1.
        splits: split name ("train", "val", "test") -> int64 array of dataset indices: checked on
            creation (integer indices, in range, no negatives, no duplicates, disjoint; a boolean mask is
            refused: pass ``np.flatnonzero(mask)``). Warnings: an empty split, a class with no training
            sample, more leads than time steps (signals in (N, T, leads) order).
        evidence_mask: optional bool (N, T): where the class evidence lies (synthetic data only).
        name: dataset name, for reports.
        aux: optional float32 (N, F) per-sample auxiliary features (e.g. RR intervals of a beat), fed to
            a model built with ``build_model(..., n_aux=F)`` next to the signal; checked: shape, finite.
        aux_names: the F feature names (default ``aux0..``).

    Example:
        >>> d = ECGData(np.zeros((4, 1, 50), np.float32), np.array([0, 1, 0, 1]), ["a", "b"], fs=100)
        >>> d.n_samples, d.n_leads, d.n_timesteps, d.n_classes
        (4, 1, 50, 2)
        >>> d.subset(np.array([1, 3])).labels.tolist()
        [1, 1]
    """

    signals: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    fs: float
    lead_names: list[str] | None = None
    meta: pd.DataFrame | None = None
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    evidence_mask: np.ndarray | None = None
    name: str = "ecg"
    aux: np.ndarray | None = None
    aux_names: list[str] | None = None

    def __post_init__(self) -> None:
        check_signals(self.signals)
        n = self.signals.shape[0]
        self.labels = check_labels(self.labels, n, self.class_names)
        if self.lead_names is None:
            self.lead_names = [f"lead{i}" for i in range(self.signals.shape[1])]
        if len(self.lead_names) != self.signals.shape[1]:
            raise ValueError(f"Expected {self.signals.shape[1]} lead names, got {len(self.lead_names)}.")
        if self.meta is None:
            self.meta = pd.DataFrame(index=pd.RangeIndex(n))
        if len(self.meta) != n:
            raise ValueError(f"Expected meta with {n} rows, got {len(self.meta)}.")
        if self.evidence_mask is not None and self.evidence_mask.shape != (n, self.signals.shape[2]):
            raise ValueError(f"Expected evidence_mask of shape {(n, self.signals.shape[2])}, "
                             f"got {self.evidence_mask.shape}.")
        self.check_aux()
        self.splits = check_splits(self.splits, n)
        for message in warn_shape_and_coverage(self.signals.shape, self.labels, self.class_names, self.splits):
            warnings.warn(message, UserWarning, stacklevel=3)

    def check_aux(self) -> None:
        """Check ``aux`` (after setting it in place): (N, F), finite, one name per column; stores it as float32."""
        n = self.n_samples
        if self.aux is None:
            if self.aux_names is not None:
                raise ValueError(f"Got aux_names {self.aux_names} but no aux features: pass aux (N, F) too.")
            return
        aux = np.asarray(self.aux, dtype=np.float32)
        if aux.ndim != 2 or aux.shape[0] != n:
            raise ValueError(f"Expected aux of shape ({n}, F) (one feature row per sample), got {aux.shape}: "
                             f"reshape it (a single feature: aux[:, None]).")
        bad = np.flatnonzero(~np.isfinite(aux).all(axis=1))
        if bad.size:
            shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
            raise ValueError(f"Expected finite aux features, got NaN/inf in {bad.size} sample(s) (indices {shown}): "
                             "fill or drop them before building the ECGData.")
        names = [f"aux{i}" for i in range(aux.shape[1])] if self.aux_names is None else list(self.aux_names)
        if len(names) != aux.shape[1]:
            raise ValueError(f"Expected {aux.shape[1]} aux_names (one per aux column), got {len(names)}.")
        self.aux, self.aux_names = aux, names

    @property
    def n_aux(self) -> int:
        """Width F of the auxiliary features (0 without them)."""
        return 0 if self.aux is None else int(self.aux.shape[1])

    def check_splits(self) -> None:
        """Check the splits again (after they were changed in place): integer indices, in range, disjoint.

        Raises:
            ValueError: naming the split, what was wrong and how to fix it.

        Example:
            >>> d = ECGData(np.zeros((4, 1, 8), np.float32), [0, 1, 0, 1], ["a", "b"], 100,
            ...             splits={"train": [0, 1], "test": [2, 3]})
            >>> d.splits["test"] = np.array([1, 2])
            >>> d.check_splits()
            Traceback (most recent call last):
            ...
            ValueError: Expected disjoint splits, got 1 dataset index in both 'train' and 'test' (1): a sample in two splits leaks between them; remove it from one.
        """
        self.splits = check_splits(self.splits, self.n_samples)

    def non_finite(self, split: str) -> np.ndarray:
        """Dataset indices of the samples of ``split`` whose signal holds a NaN or inf (read in chunks).

        Example:
            >>> x = np.zeros((2, 1, 4), np.float32); x[1, 0, 0] = np.inf
            >>> ECGData(x, [0, 1], ["a", "b"], 100, splits={"train": [0, 1]}).non_finite("train").tolist()
            [1]
        """
        return non_finite_indices(self.signals, self.split(split))

    def check_finite(self, splits: list[str] | tuple[str, ...] | None = None) -> None:
        """Raise if a split holds a NaN/inf sample (all splits by default), before any training.

        Reads the signals in chunks, so a memory-mapped set is not loaded at once. The splits are
        checked first (:meth:`check_splits`).

        Args:
            splits: the split names to check (default: every split).

        Raises:
            ValueError: naming the split, how many samples and which, and how to fix it.

        Example:
            >>> x = np.zeros((4, 1, 8), np.float32); x[3, 0, 2] = np.nan
            >>> d = ECGData(x, [0, 1, 0, 1], ["a", "b"], 100, splits={"train": [0, 1], "test": [2, 3]})
            >>> d.check_finite(["train"])
            >>> d.check_finite()
            Traceback (most recent call last):
            ...
            ValueError: Expected finite signals in split 'test', got 1 sample(s) with NaN/inf (dataset indices 3): clean them (np.nan_to_num, or drop them from the split) before training.
        """
        self.check_splits()
        for name in self.splits if splits is None else splits:
            bad = self.non_finite(name)
            if bad.size:
                shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
                raise ValueError(f"Expected finite signals in split {name!r}, got {bad.size} sample(s) with NaN/inf "
                                 f"(dataset indices {shown}): clean them (np.nan_to_num, or drop them from the "
                                 f"split) before training.")

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[0])

    @property
    def n_leads(self) -> int:
        return int(self.signals.shape[1])

    @property
    def n_timesteps(self) -> int:
        return int(self.signals.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def multilabel(self) -> bool:
        return self.labels.ndim == 2

    def split(self, name: str) -> np.ndarray:
        """Dataset indices of a split; raises with the available split names.

        Example:
            >>> d = ECGData(np.zeros((3, 1, 5), np.float32), [0, 1, 1], ["a", "b"], 100,
            ...             splits={"train": [0, 1], "test": [2]})
            >>> d.split("train").tolist()
            [0, 1]
        """
        check_choice("split", name, list(self.splits))
        return self.splits[name]

    def subset(self, indices: np.ndarray, name: str | None = None) -> "ECGData":
        """A new ECGData holding only ``indices`` (splits dropped; meta keeps an ``orig_index`` column)."""
        idx = np.asarray(indices, dtype=np.int64)
        meta = self.meta.iloc[idx].copy()
        meta["orig_index"] = idx
        return ECGData(
            signals=np.asarray(self.signals[idx]), labels=self.labels[idx], class_names=list(self.class_names),
            fs=self.fs, lead_names=list(self.lead_names or []), meta=meta.reset_index(drop=True),
            evidence_mask=None if self.evidence_mask is None else self.evidence_mask[idx],
            name=name or self.name, aux=None if self.aux is None else self.aux[idx],
            aux_names=None if self.aux is None else list(self.aux_names),
        )

    def class_counts(self) -> pd.Series:
        """Samples per class (multi-label: positives per class)."""
        counts = self.labels.sum(0) if self.multilabel else np.bincount(self.labels, minlength=self.n_classes)
        return pd.Series(np.asarray(counts, dtype=np.int64), index=self.class_names, name="count")

    def describe(self) -> dict[str, Any]:
        """A one-line summary as a dict (shape, fs, classes, splits, aux feature names)."""
        return {"name": self.name, "n": self.n_samples, "leads": self.n_leads, "T": self.n_timesteps,
                "fs": self.fs, "classes": list(self.class_names),
                "splits": {k: int(len(v)) for k, v in self.splits.items()},
                "aux": list(self.aux_names) if self.aux is not None else []}


class ECGDataset(Dataset):
    """Torch Dataset over an :class:`ECGData` returning ``(signal, label, index)``, plus ``aux`` when the data has it.

    ``index`` is the dataset index (position in the ECGData), which selection logs key on, so a
    shuffled loader still logs the right sample. With ``data.aux`` set an item is
    ``(signal, label, index, aux)`` (aux float32 (F,)); unpack items as ``x, y, idx, *extra = item``.

    Args:
        data: the ECG set.
        indices: which dataset indices this Dataset serves (default: all).

    Example:
        >>> d = ECGData(np.ones((3, 2, 8), np.float32), [0, 1, 1], ["a", "b"], 100)
        >>> x, y, i = ECGDataset(d, np.array([2]))[0]
        >>> tuple(x.shape), int(y), int(i)
        ((2, 8), 1, 2)
        >>> d.aux = np.array([[0.5], [1.0], [2.0]], np.float32)
        >>> x, y, i, aux = ECGDataset(d)[2]
        >>> aux.tolist()
        [2.0]
    """

    def __init__(self, data: ECGData, indices: np.ndarray | None = None) -> None:
        self.data = data
        self.indices = np.arange(data.n_samples) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, i: int) -> tuple:
        idx = int(self.indices[i])
        x = torch.from_numpy(np.array(self.data.signals[idx], dtype=np.float32, copy=True))
        y = self.data.labels[idx]
        y_t = torch.as_tensor(y, dtype=torch.float32 if self.data.multilabel else torch.long)
        if self.data.aux is None:
            return x, y_t, idx
        return x, y_t, idx, torch.from_numpy(np.array(self.data.aux[idx], dtype=np.float32, copy=True))
