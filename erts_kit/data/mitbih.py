"""MIT-BIH Arrhythmia Database reader: beat windows around annotated R peaks, AAMI classes.

The classic beat benchmark (Moody & Mark 2001; PhysioNet, ODC-By 1.0), not used by the ERTS paper.
Each annotated beat (``wfdb.rdann`` annotator ``atr``) becomes one sample: a window of the chosen
lead(s) centred on the annotation, labelled with its AAMI class (EC57):
N (N, L, R, e, j), S (A, a, J, S), V (V, E), F (F), Q (/, f, Q). Non-beat annotations (rhythm
changes ``+``, noise ``~``, flutter waves ``!``, ...) are ignored.

Rules worth knowing (they change beat counts):

* **Edge drop.** A beat whose window does not fit inside the record (fewer than ``T // 2`` samples
  before the R peak, or fewer than ``T - T // 2`` after it) is dropped; nothing is padded.
* **RR intervals** are measured over the full sequence of beat annotations (before the edge drop), in
  seconds: ``pre_rr`` (from the previous beat), ``post_rr`` (to the next), ``local_avg_rr`` (mean of
  the last 10 ``pre_rr`` values up to and including this beat). The first/last beat of a record
  borrows the interval of its other side.
* **Lead.** ``lead="MLII"`` picks the channel named MLII wherever it sits (record 114 stores it
  second). A record without the named lead raises (or is skipped with ``on_error="skip"``): there is
  no silent fallback to another lead. ``lead="both"`` gives MLII first and the record's other lead
  second (V1, V2, V4 or V5 depending on the record; see ``meta["second_lead"]``).
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from .._validation import check_choice, check_int, check_range, format_list
from ._wfdb_io import (
    RecordReadError,
    SkipReport,
    check_finite,
    handle_error,
    load_cached_records,
    read_annotation,
    read_record,
)
from .dataset import ECGData
from .normalize import zscore_per_lead
from .protocol import DS1, DS2, inter_patient_splits
from .rr import RR_AUX, RR_FEATURES, rr_aux, rr_features

__all__ = ["AAMI_CLASSES", "AAMI_MAP", "DEFAULT_WINDOW_S", "DS1", "DS2", "PACED", "RR_AUX", "RR_FEATURES",
           "load_mitbih", "rr_aux", "rr_features"]
PACED: tuple[str, ...] = ("102", "104", "107", "217")
"""Records with paced beats, left out by AAMI EC57 (and by default here)."""

AAMI_CLASSES: list[str] = ["N", "S", "V", "F", "Q"]
AAMI_MAP: dict[str, str] = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    "A": "S", "a": "S", "J": "S", "S": "S",
    "V": "V", "E": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q",
}
"""Beat annotation symbol -> AAMI class; symbols not listed are not beats and are ignored."""

DEFAULT_WINDOW_S: dict[str, float] = {"beat": 0.8, "rr": 0.8, "multibeat": 3.0}
_LOCAL_RR_BEATS = 10


def _pick_channels(names: list[str], lead: str | int, rec: str) -> list[int]:
    """Channel indices for ``lead`` in a record whose leads are ``names``; raise naming the record."""
    if lead == "both":
        if "MLII" not in names or len(names) < 2:
            raise RecordReadError(rec, f"lead='both' needs MLII plus a second lead, the record has {names}")
        first = names.index("MLII")
        return [first] + [i for i in range(len(names)) if i != first][:1]
    if isinstance(lead, int):
        if not 0 <= lead < len(names):
            raise RecordReadError(rec, f"lead index {lead} out of range for its leads {names}")
        return [lead]
    if lead not in names:
        raise RecordReadError(rec, f"no lead {lead!r} (the record has {names}; pass lead=<name or index>)")
    return [names.index(lead)]


def _read_record(root: Path, rec: str, lead: str | int) -> tuple[np.ndarray, list[str], float,
                                                                  np.ndarray, list[str]]:
    """One record's chosen lead(s) (leads, L) float32 and its ``atr`` beats; RecordReadError on trouble."""
    record = read_record(root / rec, name=rec, return_res=32)
    ann = read_annotation(root / rec, "atr", name=rec)
    names = list(record.sig_name)
    channels = _pick_channels(names, lead, rec)
    signal = np.ascontiguousarray(record.p_signal[:, channels].T, dtype=np.float32)  # (leads, L)
    if record.sig_len and signal.shape[1] != record.sig_len:
        raise RecordReadError(rec, f"expected {record.sig_len} samples, read {signal.shape[1]} (truncated)")
    check_finite(signal, rec)
    return signal, [names[c] for c in channels], float(record.fs), np.asarray(ann.sample), list(ann.symbol)


def _record_beats(signal: np.ndarray, fs: float, samples: np.ndarray, symbols: list[str],
                  n_t: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Windows (n, leads, n_t) of one record's beats and their meta (sample, symbol, RR intervals)."""
    is_beat = np.array([s in AAMI_MAP for s in symbols], dtype=bool)
    pos = np.asarray(samples)[is_beat].astype(np.int64)
    sym = np.asarray(symbols, dtype=object)[is_beat]
    if pos.size == 0:
        return np.zeros((0, signal.shape[0], n_t), np.float32), pd.DataFrame()
    rr = np.diff(pos) / fs
    pre = np.concatenate([[np.nan], rr])
    post = np.concatenate([rr, [np.nan]])
    pre = np.where(np.isnan(pre), post, pre)  # first beat borrows its post interval
    post = np.where(np.isnan(post), pre, post)  # last beat borrows its pre interval
    local = pd.Series(pre).rolling(_LOCAL_RR_BEATS, min_periods=1).mean().to_numpy()
    start = pos - n_t // 2
    keep = (start >= 0) & (start + n_t <= signal.shape[1])
    idx = start[keep, None] + np.arange(n_t)[None, :]  # (n, T)
    windows = np.ascontiguousarray(signal[:, idx].transpose(1, 0, 2))  # (leads, n, T) -> (n, leads, T)
    meta = pd.DataFrame({"sample": pos[keep], "symbol": sym[keep], "pre_rr": pre[keep],
                         "post_rr": post[keep], "local_avg_rr": local[keep],
                         "record_avg_rr": float(rr.mean()) if rr.size else float("nan")})
    return windows, meta


def _resolve_records(roots: list[Path], records: Sequence[str | int] | None) -> dict[str, Path]:
    """Record name -> the first folder of ``roots`` holding it (``NNN.hea``), in load order."""
    present: dict[str, Path] = {}
    for root in roots:
        for p in sorted(root.glob("*.hea")):
            present.setdefault(p.stem, root)
    where = format_list([str(r) for r in roots])
    if records is None:
        chosen = sorted(r for r in DS1 + DS2 if r in present)
        if not chosen:
            raise ValueError(f"No MIT-BIH records found in {where}: expected files like 101.hea/.dat/.atr. "
                             "Download them with erts_kit.data.download.download_database('mitbih', dest).")
        return {r: present[r] for r in chosen}
    if isinstance(records, (str, int)):
        records = [records]
    chosen = list(dict.fromkeys(str(r) for r in records))
    missing = [r for r in chosen if r not in present]
    if missing:
        raise ValueError(f"MIT-BIH records missing from {where}: {format_list(missing)} (no .hea file). "
                         f"Found {len(present)} records there; download them or drop them from `records`.")
    return {r: present[r] for r in chosen}


def _pick_val_records(rec: np.ndarray, labels: np.ndarray, ds1: list[str], n_val: int,
                      seed: int, tries: int = 200) -> list[str]:
    """Seeded draw of ``n_val`` DS1 records for validation that leaves train most of every class.

    Draws up to ``tries`` random record sets and keeps the first in which every class present in
    DS1 keeps at least half its beats in train; failing that, the draw whose worst class keeps the
    most. (Without this rule, record 208 alone holds about 90% of the F beats of DS1.)
    """
    k = min(n_val, max(0, len(ds1) - 1))
    if k == 0:
        return []
    in_ds1 = np.isin(rec, ds1)
    total = np.bincount(labels[in_ds1], minlength=len(AAMI_CLASSES))
    present = total > 0
    rng = np.random.default_rng(seed)
    best, best_score = None, -1.0
    for _ in range(tries):
        pick = sorted(rng.choice(ds1, size=k, replace=False).tolist())
        kept = np.bincount(labels[in_ds1 & ~np.isin(rec, pick)], minlength=len(AAMI_CLASSES))
        score = float((kept[present] / total[present]).min())
        if score >= 0.5:
            return pick
        if score > best_score:
            best, best_score = pick, score
    return best or []


def _make_splits(meta: pd.DataFrame, labels: np.ndarray, split: str, n_val_records: int,
                 seed: int, protocol: dict[str, Any]) -> dict[str, np.ndarray]:
    rec = meta["record"].to_numpy()
    if split == "inter_patient":
        train = [str(r) for r in protocol.get("train_records") or DS1]
        test = [str(r) for r in (DS2 if protocol.get("test_records") is None else protocol["test_records"])]
        if protocol.get("val_records") is not None or protocol.get("n_folds") is not None:
            return inter_patient_splits(rec, train, test, val_records=protocol.get("val_records"),
                                        n_folds=protocol.get("n_folds"), fold=protocol.get("fold", 0), seed=seed,
                                        labels=meta["symbol"].to_numpy())  # folds balanced over beat symbols
        ds1 = sorted(set(rec) & set(train))
        is_val = np.isin(rec, _pick_val_records(rec, labels, ds1, n_val_records, seed))
        return {"train": np.flatnonzero(np.isin(rec, ds1) & ~is_val), "val": np.flatnonzero(is_val),
                "test": np.flatnonzero(np.isin(rec, test))}
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))

    def _split(ix: np.ndarray, size: float, rs: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            return train_test_split(ix, test_size=size, random_state=rs, stratify=labels[ix])
        except ValueError:  # a class with fewer than 2 beats: fall back to a plain random split
            return train_test_split(ix, test_size=size, random_state=rs)

    train, rest = _split(idx, 0.2, seed)
    val, test = _split(rest, 0.5, seed + 1)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _resample(signal: np.ndarray, samples: np.ndarray, fs: float, target: float | None
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """The record at ``target`` Hz (polyphase, anti-aliased) with its annotation positions rescaled."""
    if target is None or target == fs:
        return signal, samples, fs
    ratio = Fraction(target / fs).limit_denominator(1000)
    out = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1).astype(np.float32)
    return out, np.round(np.asarray(samples) * (target / fs)).astype(np.int64), float(target)


def _build(roots: dict[str, Path], n_t_s: float, context: str, lead: str | int, normalize: bool,
           on_error: str, split: str, n_val_records: int, seed: int, target_fs: float | None,
           protocol: dict[str, Any]) -> ECGData:
    windows, metas, fs_seen, lead_names = [], [], None, None
    skipped = SkipReport()
    recs = list(roots)
    for rec in recs:
        try:
            signal, names, fs, samples, symbols = _read_record(roots[rec], rec, lead)
        except RecordReadError as err:
            handle_error(err, on_error, skipped)
            continue
        if fs_seen is not None and fs != fs_seen and target_fs is None:
            raise ValueError(f"Record {rec} is sampled at {fs} Hz, earlier records at {fs_seen} Hz: "
                             "load records of one sampling rate together, or pass fs=<Hz> to resample all.")
        signal, samples, fs = _resample(signal, samples, fs, target_fs)
        fs_seen = fs
        n_t = round(n_t_s * fs)
        w, m = _record_beats(signal, fs, samples, symbols, n_t)
        if len(m) == 0:
            continue
        m.insert(0, "record", rec)
        if normalize:  # per record, so the float64 temporaries stay one record in size
            w = zscore_per_lead(w)
        if lead == "both":
            m["second_lead"] = names[1]
        lead_names = lead_names or (["MLII", "second"] if lead == "both" else [str(names[0])])
        windows.append(w)
        metas.append(m)
    skipped.warn("MIT-BIH", stacklevel=4)
    if not windows:
        raise ValueError(f"No beats loaded from MIT-BIH records {format_list(recs)} in "
                         f"{format_list(sorted({str(r) for r in roots.values()}))}"
                         + (f" (skipped: {format_list(skipped.records)})" if len(skipped) else "") + ".")
    signals = np.concatenate(windows)
    meta = pd.concat(metas, ignore_index=True)
    meta["aami"] = meta["symbol"].map(AAMI_MAP)
    labels = meta["aami"].map({c: i for i, c in enumerate(AAMI_CLASSES)}).to_numpy(np.int64)
    if context == "rr":
        meta["pre_rr_ratio"] = meta["pre_rr"] / meta["local_avg_rr"]
    meta.attrs["skipped"] = skipped.as_records()
    return ECGData(signals=signals.astype(np.float32, copy=False), labels=labels,
                   class_names=list(AAMI_CLASSES), fs=float(fs_seen), lead_names=lead_names, meta=meta,
                   splits=_make_splits(meta, labels, split, n_val_records, seed, protocol), name=f"mitbih-{context}")


def load_mitbih(root: str | Path | Sequence[str | Path], records: Sequence[str | int] | None = None,
                window_s: float | None = None, context: str = "beat", lead: str | int = "MLII", normalize: bool = True,
                cache_dir: str | Path | None = None, on_error: str = "raise",
                split: str = "inter_patient", n_val_records: int = 3, seed: int = 42, *,
                val_records: Sequence[str | int] | None = None, n_folds: int | None = None, fold: int = 0,
                train_records: Sequence[str | int] | None = None, test_records: Sequence[str | int] | None = None,
                fs: float | None = None, drop_from_train: Sequence[str] = ()) -> ECGData:
    """Load MIT-BIH Arrhythmia beats as AAMI-labelled windows centred on the annotated R peaks.

    Sample ``i`` is the window ``signal[sample_i - T // 2 : sample_i - T // 2 + T]`` with
    ``T = round(window_s * fs)`` (360 Hz in MIT-BIH), so the R peak sits at index ``T // 2``.
    Beats too close to a record edge for a full window are dropped (module docstring).

    Why ``context`` matters: what separates a supraventricular premature beat (S) from a normal one
    (N) is mostly *timing*, not shape: an S beat comes early, with a near-normal QRS. A window
    holding one beat cannot show that, so a beat-window CNN rarely finds S beats across patients.
    Two remedies:

    * ``"beat"``: one beat (default 0.8 s). RR columns are still in meta.
    * ``"rr"``: the same single-beat window, plus ``data.aux``: the four RR features of
      :func:`~erts_kit.data.rr.rr_aux` (pre, post and local RR relative to the record's average, and
      that average), which a model built with ``build_model(..., n_aux=4)`` takes next to the signal,
      as de Chazal et al. (2004) fed RR intervals to their classifier. Also ``meta["pre_rr_ratio"]``.
    * ``"multibeat"``: a longer window (default 3.0 s, several beats, centre beat at ``T // 2``), so
      the preceding and following beats, hence prematurity, are visible to the network itself.

    Splits: ``"inter_patient"`` (default, the honest one): train = DS1 records minus a validation
    hold-out of ``n_val_records`` whole DS1 records drawn with ``seed`` (fewer if fewer DS1 records are
    loaded; at least one stays in train), redrawn (seeded) until every class keeps at least half its
    DS1 beats in train; test = DS2 records. Records in neither list (e.g. paced
    ones requested explicitly) are in no split. ``val_records`` (a fixed list) or ``n_folds``/``fold``
    (record-wise folds inside the training records, :func:`~erts_kit.data.protocol.record_folds`,
    balanced over the beat annotation symbols, so that e.g. the bundle-branch-block records, whose
    normal beats are wide like V beats, are spread over the folds rather than held out together)
    replace the drawn hold-out; ``train_records``/``test_records`` replace DS1/DS2. With either, an
    empty train or validation split raises (:func:`~erts_kit.data.protocol.inter_patient_splits`). ``"intra_patient"``: beats split 80/10/10 at random,
    stratified by class, with ``seed``: beats of one patient land in train and test, so scores are
    optimistic (shown in many papers, not comparable with inter-patient ones).

    Args:
        root: folder with ``NNN.hea``, ``NNN.dat``, ``NNN.atr``, or several folders (e.g. DS1 and DS2
            kept apart): each record is read from the first folder holding it.
        records: record names (``"101"`` or ``101``); default: the records named by
            ``train_records``/``val_records``/``test_records`` when given, else every record of DS1 + DS2
            (the 44 non-paced ones) present in ``root``. Named records missing from ``root`` raise, listing them.
        window_s: window length in seconds; default ``DEFAULT_WINDOW_S[context]``.
        context: ``"beat"``, ``"rr"`` or ``"multibeat"`` (see above).
        lead: a signal name (``"MLII"``), a channel index, or ``"both"`` (MLII + the other lead).
        normalize: z-score each window per lead (as the kit does for every database).
        cache_dir: folder for a memory-mappable cache keyed by every setting (None: no cache).
        on_error: ``"raise"`` on an unreadable record, or ``"skip"`` it with a warning; skipped
            records are listed in ``data.meta.attrs["skipped"]`` (``{"record", "reason"}`` dicts).
        split: ``"inter_patient"`` or ``"intra_patient"``.
        n_val_records: DS1 records held out for validation (inter-patient split).
        seed: seed of the validation hold-out / random split / record folds.
        val_records: fixed validation records (taken out of the training records).
        n_folds, fold: validation = fold ``fold`` (0-based) of ``n_folds`` class-balanced record folds of
            the training records.
        train_records, test_records: the inter-patient train / test records (default DS1 / DS2).
        fs: resample every record to this rate (Hz) before cutting windows (default: keep 360 Hz).
        drop_from_train: AAMI classes whose beats leave the training split only, e.g. ``("Q",)``: DS1
            holds 8 Q beats, which the class-balanced loss would weight hundreds of times an N beat.
            They stay in validation and test, where they are scored (as errors: no model predicts them).

    Returns:
        ECGData with signals (N, leads, T) float32, labels int64 over ``AAMI_CLASSES``, and meta
        columns ``record, sample, symbol, pre_rr, post_rr, local_avg_rr, aami`` (+ ``pre_rr_ratio``
        for ``context="rr"``, ``second_lead`` for ``lead="both"``) and ``record_avg_rr``; with
        ``context="rr"`` also ``aux`` (N, 4) float32 named :data:`~erts_kit.data.rr.RR_AUX`.

    Raises:
        ValueError: unknown option, missing records, or no beats at all.
        RecordReadError: (a ValueError) a record that is unreadable or lacks the lead, naming it
            (``on_error="raise"``).

    Example:
        >>> data = load_mitbih("data/mitdb", records=["101", "106"])  # doctest: +SKIP
        >>> data.class_counts()  # doctest: +SKIP
    """
    check_choice("context", context, list(DEFAULT_WINDOW_S))
    check_choice("on_error", on_error, ["raise", "skip"])
    check_choice("split", split, ["inter_patient", "intra_patient"])
    check_int("n_val_records", n_val_records, minimum=0)
    check_int("seed", seed, minimum=0)
    if fs is not None:
        check_range("fs", fs, 0.0, 10000.0, low_inclusive=False)
    if not (isinstance(lead, (str, int)) and not isinstance(lead, bool)):
        raise TypeError(f"Expected lead to be a signal name, a channel index or 'both', got {lead!r}.")
    window_s = DEFAULT_WINDOW_S[context] if window_s is None else window_s
    check_range("window_s", window_s, 0.0, 60.0, low_inclusive=False)
    roots = [Path(r) for r in ([root] if isinstance(root, (str, Path)) else root)]
    for folder in roots:
        if not folder.is_dir():
            raise ValueError(f"MIT-BIH folder {folder} does not exist: download it with "
                             "erts_kit.data.download.download_database('mitbih', dest).")
    protocol = {"val_records": _names(val_records), "n_folds": n_folds, "fold": fold,
                "train_records": _names(train_records), "test_records": _names(test_records)}
    if records is None and any(protocol[k] is not None for k in ("val_records", "train_records", "test_records")):
        named = [r for k in ("train_records", "val_records", "test_records") for r in protocol[k] or []]
        defaults = [r for k, d in (("train_records", DS1), ("test_records", DS2)) if protocol[k] is None for r in d]
        present = _resolve_records(roots, None)  # the DS1 + DS2 records found
        records = list(dict.fromkeys(named + [r for r in defaults if r in present]))
    recs = _resolve_records(roots, records)

    def build() -> ECGData:
        return _build(recs, float(window_s), context, lead, normalize, on_error, split, n_val_records, seed,
                      fs, protocol)

    if cache_dir is None:
        data = build()
    else:
        key: dict[str, Any] = {"dataset": "mitbih", "root": [str(r.resolve()) for r in roots], "records": list(recs),
                               "window_s": float(window_s), "context": context, "lead": lead,
                               "normalize": bool(normalize), "on_error": on_error, "split": split,
                               "n_val_records": n_val_records, "seed": seed, "fs": fs, **protocol,
                               "reader_version": 3}
        data = load_cached_records("MIT-BIH", build, cache_dir, key)
    if drop_from_train:
        unknown = [c for c in drop_from_train if c not in AAMI_CLASSES]
        if unknown:
            raise ValueError(f"drop_from_train names unknown class(es) {unknown}: expected some of {AAMI_CLASSES}.")
        train = data.splits.get("train", np.zeros(0, np.int64))
        gone = np.isin(data.labels[train], [AAMI_CLASSES.index(c) for c in drop_from_train])
        data.splits["train"] = train[~gone]
    if context == "rr":  # derived from meta after the cache: the cache stores signals, labels and meta
        data.aux, data.aux_names = rr_aux(data.meta), list(RR_AUX)
        data.check_aux()
    return data


def _names(records: Sequence[str | int] | str | int | None) -> list[str] | None:
    if records is None:
        return None
    return [str(r) for r in ([records] if isinstance(records, (str, int)) else records)]
