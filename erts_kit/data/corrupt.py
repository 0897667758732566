"""Known corruption injected into a real ECG set, so real signals get a ground truth.

:func:`inject_corruption` flips a known share of the labels of one split and applies the synthetic
benchmark's heavy artefacts (:func:`erts_kit.data.synthetic_noise.apply_artifact`: baseline wander,
muscle noise, electrode motion, flat or swapped leads) to another known share of its signals, and
records both in ``meta`` with the same columns as the synthetic benchmark (``label_true``, ``flipped``,
``artifact_kind``, ``corrupted``, ...), so every ground-truth tool of the kit works on the result.

Artefact amplitudes are in mV (the synthetic benchmark's units): inject into signals in mV (e.g.
``load_mitbih(..., normalize=False)``) and let ``normalize=True`` z-score each window afterwards, as
the readers do; injected into z-scored windows the same artefact is several times larger.

:func:`corrupted_record_folds` does both steps for record-wise cross-validation: the folds of
:func:`erts_kit.data.protocol.held_out_fold`, each with corruption injected into its training split only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import check_choice, check_int, check_range
from .dataset import ECGData
from .normalize import zscore_per_lead
from .protocol import held_out_fold
from .synthetic_leads import LEAD_ALIASES, STANDARD_LEADS
from .synthetic_noise import ARTIFACT_KINDS, apply_artifact

__all__ = ["corrupted_record_folds", "inject_corruption"]


def _artifact_leads(data: ECGData) -> list[str]:
    """Lead names the artefact generator knows (unknown names become limb lead II, which they mostly are)."""
    names = list(data.lead_names or [])
    if len(names) != data.n_leads:
        names = ["II"] * data.n_leads
    return [n if (n in STANDARD_LEADS or n in LEAD_ALIASES) else "II" for n in names]


def inject_corruption(data: ECGData, label_flip_rate: float = 0.1, artifact_rate: float = 0.1, seed: int = 0,
                      split: str = "train", artifact_kinds: Sequence[str] | None = None,
                      normalize: bool = True) -> ECGData:
    """A copy of ``data`` with flipped labels and heavy artefacts on known samples of ``split``.

    Flips: ``round(label_flip_rate * n)`` samples of the split, drawn at random, get a label drawn
    uniformly among the other classes. Artefacts: ``round(artifact_rate * n)`` samples (drawn
    independently, so a sample can carry both) get one artefact each, the kinds cycled in random order.

    Args:
        data: single-label ECGData with the split.
        label_flip_rate: share of the split's samples whose label is flipped, in [0, 1].
        artifact_rate: share given one heavy artefact, in [0, 1].
        seed: seeds every draw (same inputs, same output).
        split: which split is corrupted (the others stay clean).
        artifact_kinds: subset of ``ARTIFACT_KINDS`` (default all five).
        normalize: z-score every window per lead afterwards (signals given in mV).

    Returns:
        A new ECGData (signals copied, in RAM); ``meta`` gains ``label_true, label, flipped, artifact,
        artifact_kind, corrupted`` (+ ``class_true``, ``class_observed``).

    Raises:
        ValueError: rates outside [0, 1], an unknown split or artefact kind, multi-label data, fewer than
            2 classes (nothing to flip to).

    Example:
        >>> x = np.random.default_rng(0).standard_normal((20, 1, 100)).astype("float32")
        >>> d = ECGData(x, np.arange(20) % 2, ["a", "b"], fs=100, splits={"train": np.arange(20)})
        >>> c = inject_corruption(d, 0.25, 0.2, seed=1)
        >>> int(c.meta["flipped"].sum()), int(c.meta["artifact"].sum()), bool((c.labels != d.labels).sum() == 5)
        (5, 4, True)
    """
    check_range("label_flip_rate", label_flip_rate, 0.0, 1.0)
    check_range("artifact_rate", artifact_rate, 0.0, 1.0)
    check_int("seed", seed, minimum=0)
    check_choice("split", split, sorted(data.splits))
    kinds = list(ARTIFACT_KINDS if artifact_kinds is None else artifact_kinds)
    for k in kinds:
        check_choice("artifact kind", k, ARTIFACT_KINDS)
    if not kinds:
        raise ValueError(f"Expected at least one artifact kind from {ARTIFACT_KINDS}, got [].")
    if data.multilabel:
        raise ValueError("inject_corruption flips single labels: got multi-hot labels (N, C); use a single-label set.")
    if data.n_classes < 2:
        raise ValueError(f"Expected at least 2 classes to flip labels between, got {data.n_classes}.")
    rng = np.random.default_rng(seed)
    pool = np.asarray(data.splits[split], dtype=np.int64)
    n = data.n_samples
    label_true = np.asarray(data.labels, dtype=np.int64).copy()
    flipped = np.zeros(n, bool)
    flipped[rng.choice(pool, round(label_flip_rate * len(pool)), replace=False)] = True
    label = label_true.copy()
    label[flipped] = (label_true[flipped] + rng.integers(1, data.n_classes, flipped.sum())) % data.n_classes
    artifact_kind = np.full(n, "none", dtype=object)
    hit = rng.choice(pool, round(artifact_rate * len(pool)), replace=False)
    artifact_kind[hit] = np.array(kinds, dtype=object)[rng.permutation(len(hit)) % len(kinds)]
    signals = np.array(data.signals, dtype=np.float32, copy=True)
    leads = _artifact_leads(data)
    for i in np.flatnonzero(artifact_kind != "none"):
        apply_artifact(rng, signals[i], str(artifact_kind[i]), float(data.fs), leads)
    if normalize:
        signals = zscore_per_lead(signals)
    meta = data.meta.copy() if data.meta is not None else pd.DataFrame(index=np.arange(n))
    names = np.array(data.class_names, dtype=object)
    meta = meta.assign(label_true=label_true, label=label, class_true=names[label_true], class_observed=names[label],
                       flipped=flipped, artifact=artifact_kind != "none", artifact_kind=artifact_kind.astype(str),
                       corrupted=flipped | (artifact_kind != "none"))
    return ECGData(signals=signals, labels=label, class_names=list(data.class_names), fs=data.fs,
                   lead_names=data.lead_names, meta=meta, splits={k: np.asarray(v) for k, v in data.splits.items()},
                   evidence_mask=data.evidence_mask, name=f"{data.name}+corrupted")


def corrupted_record_folds(data: ECGData, n_folds: int = 3, label_flip_rate: float = 0.1,
                           artifact_rate: float = 0.1, seed: int = 0, *, val_share: float = 0.1,
                           max_majority_per_record: int | None = None,
                           drop_from_train: Sequence[str] = ()) -> list[ECGData]:
    """Record-wise folds (:func:`~erts_kit.data.protocol.held_out_fold`) with corruption in each training split.

    Fold ``i`` tests on its own records (clean, every sample) and trains on the other records' samples,
    ``label_flip_rate`` of them with a flipped label and ``artifact_rate`` with a heavy artefact
    (:func:`inject_corruption`, seeded ``seed + i``); validation stays clean.

    Args:
        data: signals in mV (e.g. ``load_mitbih(root, records=DS1, normalize=False)``) with ``meta["record"]``.
        n_folds: number of record-wise folds.
        label_flip_rate, artifact_rate: corruption of each training split, as in :func:`inject_corruption`.
        seed: seeds the folds, the validation draw, the thinning and the corruption.
        val_share, max_majority_per_record, drop_from_train: as in :func:`~erts_kit.data.protocol.held_out_fold`.

    Returns:
        ``n_folds`` ECGData, z-scored per window and lead, each with train / val / test splits.

    Example:
        >>> rec = np.repeat(["a", "b", "c", "d"], 10)
        >>> x = np.random.default_rng(0).standard_normal((40, 1, 100)).astype("float32")
        >>> d = ECGData(x, np.arange(40) % 2, ["N", "V"], 100, meta=pd.DataFrame({"record": rec}))
        >>> folds = corrupted_record_folds(d, 2, 0.25, 0.0, seed=0)
        >>> [int(f.meta.loc[f.splits["train"], "flipped"].sum()) for f in folds]
        [4, 4]
        >>> [int(f.meta.loc[f.splits["test"], "corrupted"].sum()) for f in folds]
        [0, 0]
    """
    out = []
    for i in range(n_folds):
        fold = held_out_fold(data, i, n_folds, seed=seed, val_share=val_share,
                             max_majority_per_record=max_majority_per_record, drop_from_train=drop_from_train)
        out.append(inject_corruption(fold, label_flip_rate, artifact_rate, seed=seed + i))
    return out
