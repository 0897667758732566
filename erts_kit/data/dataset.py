"""The one in-memory container every reader returns, and the torch Dataset over it.

Every reader (synthetic, PTB-XL, CinC 2020, MIT-BIH) gives an :class:`ECGData`; every training run,
explanation and selection log keys samples by their position in it (the *dataset index*).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from .._validation import check_choice, check_signals


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
        splits: split name ("train", "val", "test") -> int64 array of dataset indices.
        evidence_mask: optional bool (N, T): where the class evidence lies (synthetic data only).
        name: dataset name, for reports.

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

    def __post_init__(self) -> None:
        check_signals(self.signals)
        self.labels = np.asarray(self.labels)
        n = self.signals.shape[0]
        if self.labels.shape[0] != n:
            raise ValueError(f"Expected {n} labels (one per signal), got {self.labels.shape[0]}.")
        if self.labels.ndim == 1:
            if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
                raise ValueError(f"Expected class ids in [0, {len(self.class_names) - 1}], got range "
                                 f"[{self.labels.min()}, {self.labels.max()}]: check class_names.")
        elif self.labels.ndim == 2:
            if self.labels.shape[1] != len(self.class_names):
                raise ValueError(f"Expected multi-label width {len(self.class_names)}, got {self.labels.shape[1]}.")
        else:
            raise ValueError(f"Expected labels of shape (N,) or (N, C), got {self.labels.shape}.")
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
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()}

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
            >>> d = ECGData(np.zeros((2, 1, 5), np.float32), [0, 1], ["a", "b"], 100, splits={"train": [0]})
            >>> d.split("train").tolist()
            [0]
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
            name=name or self.name,
        )

    def class_counts(self) -> pd.Series:
        """Samples per class (multi-label: positives per class)."""
        counts = self.labels.sum(0) if self.multilabel else np.bincount(self.labels, minlength=self.n_classes)
        return pd.Series(np.asarray(counts, dtype=np.int64), index=self.class_names, name="count")

    def describe(self) -> dict[str, Any]:
        """A one-line summary as a dict (shape, fs, classes, splits)."""
        return {"name": self.name, "n": self.n_samples, "leads": self.n_leads, "T": self.n_timesteps,
                "fs": self.fs, "classes": list(self.class_names),
                "splits": {k: int(len(v)) for k, v in self.splits.items()}}


class ECGDataset(Dataset):
    """Torch Dataset over an :class:`ECGData` returning ``(signal, label, index)``.

    ``index`` is the dataset index (position in the ECGData), which selection logs key on, so a
    shuffled loader still logs the right sample.

    Args:
        data: the ECG set.
        indices: which dataset indices this Dataset serves (default: all).

    Example:
        >>> d = ECGData(np.ones((3, 2, 8), np.float32), [0, 1, 1], ["a", "b"], 100)
        >>> x, y, i = ECGDataset(d, np.array([2]))[0]
        >>> tuple(x.shape), int(y), int(i)
        ((2, 8), 1, 2)
    """

    def __init__(self, data: ECGData, indices: np.ndarray | None = None) -> None:
        self.data = data
        self.indices = np.arange(data.n_samples) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        idx = int(self.indices[i])
        x = torch.from_numpy(np.array(self.data.signals[idx], dtype=np.float32, copy=True))
        y = self.data.labels[idx]
        y_t = torch.as_tensor(y, dtype=torch.float32 if self.data.multilabel else torch.long)
        return x, y_t, idx
