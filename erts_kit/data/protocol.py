"""Inter-patient evaluation: train, validation and test split by *record* (patient), never by beat.

Beats of one patient look alike; a split that puts beats of one record in train and test lets a model
recognise the patient instead of the arrhythmia, and its scores do not carry over to new patients
(de Chazal et al., 2004). Here every split is a set of whole records:

* :data:`DS1` / :data:`DS2`: the de Chazal 2004 MIT-BIH training / test records (22 each, no paced).
* :func:`record_folds`: k record-wise folds (no record in two folds), balanced over the classes when
  per-record class counts are given, for cross-validation inside the training records.
* :func:`inter_patient_splits`: the ``{"train", "val", "test"}`` dataset indices from each sample's
  record, with validation as a fixed record list or one fold of :func:`record_folds` over the
  training records. An empty split raises, naming the records.
* :func:`held_out_fold`: cross-validation inside one set of records (e.g. DS1 when DS2 is not at
  hand): fold ``i`` of :func:`record_folds` is the test split, validation is a share of the other
  records' beats, so checkpoints are chosen without looking at a held-out patient.

Example:
    >>> record_folds(["a", "b", "c", "d", "e"], k=2, seed=0)
    [['b', 'c', 'd'], ['a', 'e']]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._validation import check_int, format_list

if TYPE_CHECKING:
    from .dataset import ECGData

__all__ = ["DS1", "DS2", "held_out_fold", "inter_patient_splits", "record_folds"]

DS1: tuple[str, ...] = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
                        "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
"""Training records of the MIT-BIH inter-patient split (de Chazal et al., 2004)."""
DS2: tuple[str, ...] = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
                        "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
"""Test records of the MIT-BIH inter-patient split (de Chazal et al., 2004)."""


def _names(records: Sequence[str | int] | str | int) -> list[str]:
    if isinstance(records, (str, int)):
        records = [records]
    return list(dict.fromkeys(str(r) for r in records))


def record_folds(records: Sequence[str | int], k: int, seed: int = 0,
                 counts: pd.DataFrame | None = None) -> list[list[str]]:
    """Split ``records`` into ``k`` disjoint folds of whole records (sizes differ by at most one).

    Without ``counts`` the records are shuffled with ``seed`` and dealt round-robin. With ``counts``
    (one row per record, one column per class: beats of that class) the folds are balanced over the
    classes: records are placed rarest-class-heaviest first, each into the fold (with room left)
    whose class shares stay the most even. No fold shares a record with another, whatever the input.

    Args:
        records: record names (duplicates are dropped).
        k: number of folds, 2 <= k <= number of records.
        seed: order of the shuffle (and of ties when balancing).
        counts: optional per-record class counts (index: record names, as strings).

    Returns:
        ``k`` lists of record names, each sorted; together they hold every record exactly once.

    Raises:
        ValueError: fewer records than folds, or ``counts`` lacking a record.

    Example:
        >>> folds = record_folds([str(r) for r in range(10)], k=3, seed=1)
        >>> sorted(sum(folds, [])) == [str(r) for r in range(10)], [len(f) for f in folds]
        (True, [4, 3, 3])
    """
    recs = _names(records)
    check_int("k", k, minimum=2)
    check_int("seed", seed, minimum=0)
    if len(recs) < k:
        raise ValueError(f"Expected at least k={k} records for {k} record-wise folds, got {len(recs)} "
                         f"({format_list(recs)}): lower k or add records.")
    order = [str(r) for r in np.random.default_rng(seed).permutation(recs)]
    cap = [len(recs) // k + (1 if i < len(recs) % k else 0) for i in range(k)]
    if counts is None:
        folds: list[list[str]] = [order[i::k] for i in range(k)]
        return [sorted(f) for f in folds]
    counts = counts.copy()
    counts.index = counts.index.map(str)
    missing = [r for r in recs if r not in counts.index]
    if missing:
        raise ValueError(f"counts has no row for record(s) {format_list(missing)}: give one row per record.")
    table = counts.loc[order].to_numpy(dtype=float)
    share = table / np.maximum(table.sum(axis=0, keepdims=True), 1.0)  # each record's share of each class
    rarity = 1.0 / np.maximum(table.sum(axis=0), 1.0)
    place = sorted(range(len(order)), key=lambda i: -float((share[i] * rarity).max()))  # stable: seeded ties
    load = np.zeros((k, table.shape[1]))
    folds = [[] for _ in range(k)]
    for i in place:
        room = [f for f in range(k) if len(folds[f]) < cap[f]]
        best = min(room, key=lambda f: (float(((load[f] + share[i]) ** 2).sum()), len(folds[f])))
        load[best] += share[i]
        folds[best].append(order[i])
    return [sorted(f) for f in folds]


def _take(rec: np.ndarray, names: list[str]) -> np.ndarray:
    return np.flatnonzero(np.isin(rec, names))


def inter_patient_splits(record_of: Sequence[str] | np.ndarray, train_records: Sequence[str | int],
                         test_records: Sequence[str | int] = (), *, val_records: Sequence[str | int] | None = None,
                         n_folds: int | None = None, fold: int = 0, seed: int = 0,
                         labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Dataset indices of train / validation / test from each sample's record, whole records only.

    Validation is either ``val_records`` (a fixed list, taken out of the training records), or fold
    ``fold`` of ``record_folds(train_records, n_folds, seed, counts)`` (class-balanced when ``labels``
    are given). Records not loaded are ignored; records in no list are in no split.

    Args:
        record_of: (N,) record name of every sample (``data.meta["record"]``).
        train_records: records to train on (validation records are taken out of them).
        test_records: held-out test records (may be empty: no test split).
        val_records: fixed validation records (exclusive with ``n_folds``).
        n_folds, fold: record-wise k-fold validation inside the training records: fold ``fold``
            (0-based) is the validation set.
        seed: fold assignment seed.
        labels: (N,) class ids (or any per-sample stratum, e.g. beat annotation symbols), to balance
            the folds over them.

    Raises:
        ValueError: a record in two lists, a fold out of range, both or neither of ``val_records``
            and ``n_folds``, or an empty train / validation split (naming the records loaded).

    Example:
        >>> rec = np.array(["a", "a", "b", "c", "c", "d"])
        >>> s = inter_patient_splits(rec, ["a", "b", "c"], ["d"], val_records=["b"])
        >>> {k: v.tolist() for k, v in s.items()}
        {'train': [0, 1, 3, 4], 'val': [2], 'test': [5]}
    """
    rec = np.asarray(record_of).astype(str)
    loaded = sorted(set(rec.tolist()))
    train, test = _names(train_records), _names(test_records)
    if (val_records is None) == (n_folds is None):
        raise ValueError("Give exactly one of val_records (a fixed list of validation records) and n_folds "
                         "(record-wise folds inside the training records), got "
                         + ("both." if val_records is not None else "neither."))
    both = sorted(set(train) & set(test))
    if both:
        raise ValueError(f"Records {format_list(both)} are in both train_records and test_records: a record "
                         "(patient) must be in one split only.")
    present = [r for r in train if r in loaded]
    if val_records is not None:
        val = _names(val_records)
        clash = sorted(set(val) & set(test))
        if clash:
            raise ValueError(f"Validation records {format_list(clash)} are also test records: pick others.")
    else:
        check_int("n_folds", n_folds, minimum=2)
        check_int("fold", fold, minimum=0)
        if fold >= n_folds:
            raise ValueError(f"Expected fold in 0..{n_folds - 1} for n_folds={n_folds}, got {fold}.")
        counts = None
        if labels is not None:
            counts = pd.crosstab(pd.Series(rec, name="record"), pd.Series(np.asarray(labels), name="label"))
        val = record_folds(present, n_folds, seed, None if counts is None else counts.loc[present])[fold]
    splits = {"train": _take(rec, [r for r in present if r not in val]), "val": _take(rec, val)}
    for name, ids in splits.items():
        if ids.size == 0:
            raise ValueError(f"The {name!r} split is empty: no loaded record is a {name} record (loaded: "
                             f"{format_list(loaded)}; train_records: {format_list(train)}; validation: "
                             f"{format_list(val)}). Load those records, or choose validation records among "
                             "the loaded training records (at least one must stay for training).")
    if test:
        splits["test"] = _take(rec, test)
    return splits


def _cap_majority(rec: np.ndarray, labels: np.ndarray, ids: np.ndarray, cap: int, rng: np.random.Generator
                  ) -> np.ndarray:
    """``ids`` with at most ``cap`` samples of the most frequent class per record (the others all kept)."""
    major = int(np.bincount(labels[ids]).argmax())
    keep = [ids[labels[ids] != major]]
    for r in np.unique(rec[ids]):
        m = ids[(rec[ids] == r) & (labels[ids] == major)]
        keep.append(rng.permutation(m)[:cap])
    return np.sort(np.concatenate(keep))


def held_out_fold(data: "ECGData", fold: int, n_folds: int = 3, *, seed: int = 0, val_share: float = 0.1,
                  max_majority_per_record: int | None = None, drop_from_train: Sequence[str] = (),
                  strata: str = "symbol") -> "ECGData":
    """Record-wise cross-validation inside the loaded records: fold ``fold`` is the test split.

    The records are dealt into ``n_folds`` folds by :func:`record_folds`, balanced over
    ``data.meta[strata]`` (beat annotation symbols for MIT-BIH; falls back to the class labels). The
    test split holds every sample of fold ``fold``'s records; train and validation come from the other
    records only: validation is a random ``val_share`` of their samples (stratified by class, seeded),
    so the checkpoint is chosen without a held-out patient's beat. For CPU budgets,
    ``max_majority_per_record`` keeps at most that many samples of the most frequent class (N beats)
    per training record; the test split is never thinned.

    Args:
        data: samples with ``meta["record"]`` (e.g. ``load_mitbih(root, records=DS1, ...)``).
        fold: the held-out fold, 0-based.
        n_folds: number of record-wise folds (2 or more).
        seed: seeds the folds, the validation draw and the thinning.
        val_share: share of the training records' samples used for validation, in (0, 0.5].
        max_majority_per_record: cap on majority-class samples per training record (None: all).
        drop_from_train: class names left out of train and validation (e.g. ``("Q",)``).
        strata: meta column the folds are balanced over.

    Returns:
        A new ECGData (a subset; ``meta["orig_index"]`` points back) with splits train / val / test.

    Raises:
        ValueError: no ``record`` column, a fold out of range, too few records, or a bad share.

    Example:
        >>> from erts_kit.data import ECGData
        >>> rec = np.repeat(["a", "b", "c", "d"], 10)
        >>> d = ECGData(np.zeros((40, 1, 8), np.float32), np.arange(40) % 2, ["N", "V"], 100,
        ...             meta=pd.DataFrame({"record": rec}))
        >>> f = held_out_fold(d, fold=0, n_folds=2, val_share=0.2)
        >>> sorted(set(f.meta.loc[f.splits["test"], "record"])), len(f.splits["train"]), len(f.splits["val"])
        (['b', 'c'], 16, 4)
    """
    from sklearn.model_selection import train_test_split

    if "record" not in data.meta.columns:
        raise ValueError("Expected data.meta to have a 'record' column (the patient of each sample), found "
                         f"columns {list(data.meta.columns)}: load the data with a reader that records it "
                         "(load_mitbih, load_cinc2020).")
    check_int("fold", fold, minimum=0)
    if fold >= n_folds:
        raise ValueError(f"Expected fold in 0..{n_folds - 1} for n_folds={n_folds}, got {fold}.")
    if not 0.0 < val_share <= 0.5:
        raise ValueError(f"Expected val_share in (0, 0.5], got {val_share}.")
    unknown = sorted(set(drop_from_train) - set(data.class_names))
    if unknown:
        raise ValueError(f"drop_from_train names unknown classes {unknown}; the classes are {data.class_names}.")
    rec = data.meta["record"].astype(str).to_numpy()
    labels = np.asarray(data.labels)
    stratum = data.meta[strata].astype(str).to_numpy() if strata in data.meta.columns else labels
    counts = pd.crosstab(pd.Series(rec, name="record"), pd.Series(stratum, name="stratum"))
    test_records = record_folds(sorted(set(rec)), n_folds, seed, counts)[fold]
    test = np.flatnonzero(np.isin(rec, test_records))
    dropped = [data.class_names.index(c) for c in drop_from_train]
    pool = np.flatnonzero(~np.isin(rec, test_records) & ~np.isin(labels, dropped))
    rng = np.random.default_rng(seed)
    if max_majority_per_record is not None:
        check_int("max_majority_per_record", max_majority_per_record, minimum=1)
        pool = _cap_majority(rec, labels, pool, max_majority_per_record, rng)
    try:
        train, val = train_test_split(pool, test_size=val_share, random_state=seed, stratify=labels[pool])
    except ValueError:  # a class with a single sample: a plain random draw
        train, val = train_test_split(pool, test_size=val_share, random_state=seed)
    keep = np.concatenate([np.sort(train), np.sort(val), test])
    out = data.subset(keep, name=data.name)
    n_tr, n_va = len(train), len(val)
    out.splits = {"train": np.arange(n_tr), "val": np.arange(n_tr, n_tr + n_va),
                  "test": np.arange(n_tr + n_va, len(keep))}
    return out
