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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_choice, check_int, check_range, format_list
from ._wfdb_io import (RecordReadError, SkipReport, check_finite, handle_error, load_cached_records, read_annotation,
                       read_record)
from .dataset import ECGData
from .normalize import zscore_per_lead

__all__ = ["AAMI_CLASSES", "AAMI_MAP", "DEFAULT_WINDOW_S", "DS1", "DS2", "PACED", "RR_FEATURES",
           "load_mitbih", "rr_features"]

DS1: tuple[str, ...] = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
                        "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
"""Training records of the inter-patient split (de Chazal et al., 2004)."""
DS2: tuple[str, ...] = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
                        "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
"""Test records of the inter-patient split (de Chazal et al., 2004)."""
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
RR_FEATURES: tuple[str, ...] = ("pre_rr", "post_rr", "local_avg_rr", "pre_rr_ratio")
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
                         "post_rr": post[keep], "local_avg_rr": local[keep]})
    return windows, meta


def _resolve_records(root: Path, records: Sequence[str | int] | None) -> list[str]:
    present = {p.stem for p in root.glob("*.hea")}
    if records is None:
        chosen = sorted(r for r in DS1 + DS2 if r in present)
        if not chosen:
            raise ValueError(f"No MIT-BIH records found in {root}: expected files like 101.hea/.dat/.atr. "
                             "Download them with erts_kit.data.download.download_database('mitbih', dest).")
        return chosen
    if isinstance(records, (str, int)):
        records = [records]
    chosen = [str(r) for r in records]
    missing = [r for r in chosen if r not in present]
    if missing:
        raise ValueError(f"MIT-BIH records missing from {root}: {format_list(missing)} (no .hea file). "
                         f"Found {len(present)} records there; download them or drop them from `records`.")
    return list(dict.fromkeys(chosen))


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
                 seed: int) -> dict[str, np.ndarray]:
    rec = meta["record"].to_numpy()
    if split == "inter_patient":
        ds1 = sorted(set(rec) & set(DS1))
        is_val = np.isin(rec, _pick_val_records(rec, labels, ds1, n_val_records, seed))
        return {"train": np.flatnonzero(np.isin(rec, ds1) & ~is_val), "val": np.flatnonzero(is_val),
                "test": np.flatnonzero(np.isin(rec, DS2))}
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


def rr_features(data: ECGData) -> np.ndarray:
    """RR-interval features per beat, float32 (N, 4): ``pre_rr, post_rr, local_avg_rr, pre_rr_ratio``.

    ``pre_rr_ratio = pre_rr / local_avg_rr`` is below 1 for a premature beat (S and V beats come
    early), the cue a single-beat window cannot show. Intervals are in seconds; see the module
    docstring for how the first/last beat and the local average are defined.

    Args:
        data: an ECGData from :func:`load_mitbih` (any context), whose meta has the RR columns.

    Raises:
        ValueError: when ``data.meta`` lacks the RR columns.

    Example:
        >>> meta = pd.DataFrame({"pre_rr": [0.8, 0.5], "post_rr": [0.5, 1.1], "local_avg_rr": [0.8, 0.65]})
        >>> d = ECGData(np.zeros((2, 1, 4), np.float32), [0, 1], AAMI_CLASSES, 360, meta=meta)
        >>> rr_features(d).astype(float).round(3).tolist()
        [[0.8, 0.5, 0.8, 1.0], [0.5, 1.1, 0.65, 0.769]]
    """
    cols = ["pre_rr", "post_rr", "local_avg_rr"]
    missing = [c for c in cols if c not in data.meta.columns]
    if missing:
        raise ValueError(f"Expected meta columns {cols} (from load_mitbih), missing {missing}.")
    f = data.meta[cols].to_numpy(dtype=np.float64)
    ratio = f[:, 0] / np.where(f[:, 2] > 0, f[:, 2], np.nan)
    return np.column_stack([f, ratio]).astype(np.float32)


def _build(root: Path, recs: list[str], n_t_s: float, context: str, lead: str | int, normalize: bool,
           on_error: str, split: str, n_val_records: int, seed: int) -> ECGData:
    windows, metas, fs_seen, lead_names = [], [], None, None
    skipped = SkipReport()
    for rec in recs:
        try:
            signal, names, fs, samples, symbols = _read_record(root, rec, lead)
        except RecordReadError as err:
            handle_error(err, on_error, skipped)
            continue
        if fs_seen is not None and fs != fs_seen:
            raise ValueError(f"Record {rec} is sampled at {fs} Hz, earlier records at {fs_seen} Hz: "
                             "load records of one sampling rate together.")
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
        raise ValueError(f"No beats loaded from MIT-BIH records {format_list(recs)} in {root}"
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
                   splits=_make_splits(meta, labels, split, n_val_records, seed), name=f"mitbih-{context}")


def load_mitbih(root: str | Path, records: Sequence[str | int] | None = None, window_s: float | None = None,
                context: str = "beat", lead: str | int = "MLII", normalize: bool = True,
                cache_dir: str | Path | None = None, on_error: str = "raise",
                split: str = "inter_patient", n_val_records: int = 3, seed: int = 42) -> ECGData:
    """Load MIT-BIH Arrhythmia beats as AAMI-labelled windows centred on the annotated R peaks.

    Sample ``i`` is the window ``signal[sample_i - T // 2 : sample_i - T // 2 + T]`` with
    ``T = round(window_s * fs)`` (360 Hz in MIT-BIH), so the R peak sits at index ``T // 2``.
    Beats too close to a record edge for a full window are dropped (module docstring).

    Why ``context`` matters: what separates a supraventricular premature beat (S) from a normal one
    (N) is mostly *timing*, not shape: an S beat comes early, with a near-normal QRS. A window
    holding one beat cannot show that, so a beat-window CNN rarely finds S beats across patients.
    Two remedies:

    * ``"beat"``: one beat (default 0.8 s). RR columns are still in meta.
    * ``"rr"``: the same single-beat window, plus ``meta["pre_rr_ratio"]`` (pre_rr / local_avg_rr);
      feed :func:`rr_features` to your classifier next to the signal, as de Chazal et al. (2004) did.
    * ``"multibeat"``: a longer window (default 3.0 s, several beats, centre beat at ``T // 2``), so
      the preceding and following beats, hence prematurity, are visible to the network itself.

    Splits: ``"inter_patient"`` (default, the honest one): train = DS1 records minus a validation
    hold-out of ``n_val_records`` whole DS1 records drawn with ``seed`` (fewer if fewer DS1 records are
    loaded; at least one stays in train), redrawn (seeded) until every class keeps at least half its
    DS1 beats in train; test = DS2 records. Records in neither list (e.g. paced
    ones requested explicitly) are in no split. ``"intra_patient"``: beats split 80/10/10 at random,
    stratified by class, with ``seed``: beats of one patient land in train and test, so scores are
    optimistic (shown in many papers, not comparable with inter-patient ones).

    Args:
        root: folder with ``NNN.hea``, ``NNN.dat``, ``NNN.atr``.
        records: record names (``"101"`` or ``101``); default: every record of DS1 + DS2 (the 44
            non-paced ones) present in ``root``. Named records missing from ``root`` raise, listing them.
        window_s: window length in seconds; default ``DEFAULT_WINDOW_S[context]``.
        context: ``"beat"``, ``"rr"`` or ``"multibeat"`` (see above).
        lead: a signal name (``"MLII"``), a channel index, or ``"both"`` (MLII + the other lead).
        normalize: z-score each window per lead (as the kit does for every database).
        cache_dir: folder for a memory-mappable cache keyed by every setting (None: no cache).
        on_error: ``"raise"`` on an unreadable record, or ``"skip"`` it with a warning; skipped
            records are listed in ``data.meta.attrs["skipped"]`` (``{"record", "reason"}`` dicts).
        split: ``"inter_patient"`` or ``"intra_patient"``.
        n_val_records: DS1 records held out for validation (inter-patient split).
        seed: seed of the validation hold-out / random split.

    Returns:
        ECGData with signals (N, leads, T) float32, labels int64 over ``AAMI_CLASSES``, and meta
        columns ``record, sample, symbol, pre_rr, post_rr, local_avg_rr, aami`` (+ ``pre_rr_ratio``
        for ``context="rr"``, ``second_lead`` for ``lead="both"``).

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
    if not (isinstance(lead, (str, int)) and not isinstance(lead, bool)):
        raise TypeError(f"Expected lead to be a signal name, a channel index or 'both', got {lead!r}.")
    window_s = DEFAULT_WINDOW_S[context] if window_s is None else window_s
    check_range("window_s", window_s, 0.0, 60.0, low_inclusive=False)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"MIT-BIH folder {root} does not exist: download it with "
                         "erts_kit.data.download.download_database('mitbih', dest).")
    recs = _resolve_records(root, records)

    def build() -> ECGData:
        return _build(root, recs, float(window_s), context, lead, normalize, on_error, split,
                      n_val_records, seed)

    if cache_dir is None:
        return build()
    key: dict[str, Any] = {"dataset": "mitbih", "root": str(root.resolve()), "records": recs,
                           "window_s": float(window_s), "context": context, "lead": lead,
                           "normalize": bool(normalize), "on_error": on_error, "split": split,
                           "n_val_records": n_val_records, "seed": seed, "reader_version": 1}
    return load_cached_records("MIT-BIH", build, cache_dir, key)
