"""PhysioNet/CinC Challenge 2020/2021 reader: CPSC 2018, Georgia, PTB, INCART, ... (that layout).

Expected folder: ``.hea`` + ``.mat`` pairs anywhere below ``root`` (searched recursively). The
``.mat`` is a MATLAB v4 file holding ``val`` (leads, T) int16; its header names it with format
``16+24`` (24-byte MATLAB header), so ``wfdb.rdrecord`` reads it as an ordinary WFDB record.
Diagnoses are SNOMED-CT codes on a header comment line ``#Dx: 426783006,164889003``.

Labels (ERTS paper, 8 classes): the first code of the Dx list found in :data:`SNOMED_MAP` gives
the class; a record none of whose codes is mapped is OTHER. Unmapped codes are counted
(``data.meta.attrs['unmapped_dx']``: code -> number of records) and summarised in a warning.

Class order: ``class_order="kit"`` (default, :data:`CINC_CLASSES`) or ``"reference"``
(:data:`CINC_CLASSES_REFERENCE`, the order of the ERTS authors' code, so that label indices and
confusion matrices line up with theirs). Same classes, same mapping; only the indices differ.

Sampling rate: with ``fs=None`` every record must have the first record's rate; with ``fs=500``
(say) every record at another rate is resampled to it with ``scipy.signal.resample_poly`` (a
polyphase FIR filter, up/down = the reduced ratio of the two rates: 257 -> 500 Hz is 500/257,
1000 -> 500 Hz is 1/2). A CinC 2021 tree mixes 257 (INCART), 500 and 1000 Hz (PTB) records.

Length: the (resampled) signal is cut to its first ``n_timesteps`` samples or zero-padded at the
end (CPSC in the paper: 1000 samples at 500 Hz, i.e. 2 s of a 10-s record; Georgia: 5000),
z-scored per lead on the real samples before padding. Cut records are marked in
``meta['truncated']`` and counted in one warning (also on a cache hit). All records must share
the first record's lead count; others are bad records.

Split: stratified 80/10/10 with ``sklearn.model_selection.train_test_split`` and ``seed`` (falls
back to an unstratified split, with a warning, when a class is too rare).

Bad records (unreadable, NaN, all leads flat, no ``#Dx:`` line, non-numeric Dx codes, other lead
count, other fs when ``fs=None``) raise a :class:`~erts_kit.data._wfdb_io.RecordReadError` naming
the file and saying what to do for that cause, or are skipped with ``on_error="skip"`` (listed in
``data.meta.attrs['skipped']``).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from .._validation import check_choice, check_int, check_range
from ._wfdb_io import (
    ON_ERROR_CHOICES,
    RecordReadError,
    SignalStack,
    SkipReport,
    handle_error,
    load_cached_records,
    prepare_signal,
    read_record,
    warn_flat,
)
from .dataset import ECGData

CINC_CLASSES = ["NORM", "AF", "AVB", "LBBB", "RBBB", "PVC/PAC", "ST", "OTHER"]
"""The kit's order of the 8 classes (``class_order="kit"``, the default)."""
CINC_CLASSES_REFERENCE = ["NORM", "AF", "LBBB", "RBBB", "ST", "AVB", "PVC/PAC", "OTHER"]
"""The ERTS authors' order (their ``UNIFIED_CLASS_NAMES``; they name PVC/PAC ``PVC``): ``class_order="reference"``."""
CLASS_ORDERS: dict[str, list[str]] = {"kit": CINC_CLASSES, "reference": CINC_CLASSES_REFERENCE}
SNOMED_MAP: dict[int, str] = {
    426783006: "NORM",
    164889003: "AF", 164890007: "AF",                                  # fibrillation, flutter
    270492004: "AVB", 195042002: "AVB", 27885002: "AVB",               # 1st degree, 2nd degree, complete
    164909002: "LBBB",
    59118001: "RBBB", 713427006: "RBBB", 713426002: "RBBB",            # RBBB, complete, incomplete
    427172004: "PVC/PAC", 17338001: "PVC/PAC", 284470004: "PVC/PAC", 63593006: "PVC/PAC",
    429622005: "ST", 164931005: "ST",                                  # depression, elevation
}
READER_VERSION = 2   # 2: fs / class_order, meta columns fs_orig, n_samples_at_fs, truncated


def parse_dx(comments: Sequence[str], record: str) -> list[int]:
    """SNOMED codes of a header's ``Dx:`` comment line, in order.

    Raises:
        RecordReadError: no Dx line, or a code that is not an integer (message names the record).

    Example:
        >>> parse_dx(["Age: 53", "Dx: 426783006, 164889003"], "A0001")
        [426783006, 164889003]
    """
    for line in comments:
        head, sep, rest = line.strip().lstrip("#").strip().partition(":")
        if sep and head.strip().lower() == "dx":
            codes = [c.strip() for c in rest.split(",") if c.strip()]
            bad = [c for c in codes if not (c.isascii() and c.isdigit() and len(c) <= 18)]  # SNOMED ids: <= 18 digits
            if bad or not codes:
                raise RecordReadError(record, f"expected numeric SNOMED-CT codes on the '#Dx:' header line, "
                                              f"got {rest.strip()!r}", advice="Fix the header's #Dx: line")
            return [int(c) for c in codes]
    raise RecordReadError(record, "no '#Dx:' line in the header (is this a PhysioNet/CinC 2020 record?)",
                          advice="Point the reader at a folder of PhysioNet/CinC records only")


def map_dx(codes: Sequence[int]) -> tuple[str, int | None]:
    """(class, matching code): the first code in :data:`SNOMED_MAP` wins, else ``("OTHER", None)``.

    Example:
        >>> map_dx([111111, 59118001, 426783006])
        ('RBBB', 59118001)
        >>> map_dx([111111])
        ('OTHER', None)
    """
    for c in codes:
        if c in SNOMED_MAP:
            return SNOMED_MAP[c], c
    return "OTHER", None


def fit_length(x: np.ndarray, n_timesteps: int) -> np.ndarray:
    """Cut (leads, T) to the first ``n_timesteps`` samples or zero-pad at the end.

    Example:
        >>> fit_length(np.ones((1, 3)), 5).tolist(), fit_length(np.arange(6.0)[None], 2).tolist()
        ([[1.0, 1.0, 1.0, 0.0, 0.0]], [[0.0, 1.0]])
    """
    if x.shape[1] >= n_timesteps:
        return x[:, :n_timesteps]
    out = np.zeros((x.shape[0], n_timesteps), dtype=x.dtype)
    out[:, : x.shape[1]] = x
    return out


def resample_to(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample (leads, T) from ``fs_in`` to ``fs_out`` Hz with ``scipy.signal.resample_poly``.

    Up/down factors are the reduced ratio of the two rates (rates are read to 1/1000 Hz); the
    result has ``ceil(T * up / down)`` samples. Equal rates return ``x`` unchanged.

    Example:
        >>> resample_to(np.ones((2, 1000)), 1000, 500).shape, resample_to(np.ones((1, 257)), 257, 500).shape
        ((2, 500), (1, 500))
    """
    if fs_in == fs_out:
        return x
    ratio = Fraction(fs_out).limit_denominator(1000) / Fraction(fs_in).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=1)


def stratified_split(y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """80/10/10 train/val/test indices, stratified by ``y`` (unstratified, with a warning, if impossible).

    Val and test hold ``max(1, round(0.1 * N))`` records each (what ``test_size=0.2`` then ``0.5``
    gives for large N; a tiny set still gets one record in each split).

    Example:
        >>> s = stratified_split(np.array([0] * 10 + [1] * 10), seed=42)
        >>> [len(s[k]) for k in ("train", "val", "test")], np.bincount(np.array([0] * 10 + [1] * 10)[s["val"]]).tolist()
        ([16, 2, 2], [1, 1])
    """
    idx = np.arange(len(y))
    if len(y) < 3:
        raise ValueError(f"Expected at least 3 records to split 80/10/10, got {len(y)}.")
    n_hold = max(1, round(0.1 * len(y)))  # val and test sizes (at least one record each)
    try:
        train, rest = train_test_split(idx, test_size=2 * n_hold, random_state=seed, stratify=y)
        val, test = train_test_split(rest, test_size=n_hold, random_state=seed, stratify=y[rest])
    except ValueError as exc:
        warnings.warn(f"Cannot stratify the 80/10/10 split ({exc}); using an unstratified split "
                      f"with seed {seed}.", stacklevel=3)
        train, rest = train_test_split(idx, test_size=2 * n_hold, random_state=seed)
        val, test = train_test_split(rest, test_size=n_hold, random_state=seed)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _find_headers(root: Path) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(
            f"CinC 2020 folder {root} does not exist. Download the PhysioNet/CinC Challenge 2020 training "
            "set (CPSC 2018: WFDB_CPSC2018, Georgia: WFDB_Ga) from https://physionet.org/content/challenge-2020/ "
            f"and pass the folder holding its .hea/.mat files.")
    headers = sorted(root.rglob("*.hea"))
    if not headers:
        raise FileNotFoundError(f"No .hea header files below {root}: expected PhysioNet/CinC 2020 records "
                                "(A0001.hea + A0001.mat, ...).")
    return headers


def _check_record(sig: np.ndarray, rate: float, fs: float | None, n_leads: int | None, rec_name: str) -> None:
    """Lead count like the first record's; with no target rate, also the first record's rate."""
    if n_leads is not None and sig.shape[0] != n_leads:
        raise RecordReadError(rec_name, f"{sig.shape[0]} leads, expected {n_leads} like the first record",
                              advice="This reader needs the same leads in every record")
    if fs is not None and rate != fs:
        raise RecordReadError(rec_name, f"sampled at {rate:g} Hz, the first record at {fs:g} Hz",
                              advice=f"Pass fs={fs:g} (or another rate) to resample every record to one rate")


def _build_cinc(root: Path, n_timesteps: int, normalize: bool, seed: int, on_error: str,
                progress: bool, fs: float | None = None, class_order: str = "kit") -> ECGData:
    headers = _find_headers(root)
    classes = CLASS_ORDERS[class_order]
    skipped = SkipReport()
    stack = SignalStack(len(headers))
    rows, ys, flat_records = [], [], []
    unmapped: Counter[int] = Counter()
    target = fs
    lead_names: list[str] | None = None
    for hea in tqdm(headers, desc="CinC", disable=not progress):
        rel = str(hea.relative_to(root).with_suffix(""))
        rec_name = f"{rel} ({hea})"
        rec = read_record(hea.with_suffix(""), on_error, skipped, name=rec_name)
        if rec is None:
            continue
        try:
            codes = parse_dx(rec.comments, rec_name)
            raw = rec.p_signal.T  # (leads, T)
            rate = float(rec.fs)
            _check_record(raw, rate, target if fs is None else None,
                          None if lead_names is None else len(lead_names), rec_name)
            sig = resample_to(raw, rate, fs) if fs is not None else raw
            x, n_flat = prepare_signal(sig[:, :n_timesteps], rec_name, normalize)  # z-score before padding
        except RecordReadError as err:
            handle_error(err, on_error, skipped)
            continue
        if lead_names is None:
            target, lead_names = rate if fs is None else fs, list(rec.sig_name)
        stack.append(fit_length(x, n_timesteps))
        if n_flat:
            flat_records.append(rel)
        cls, code = map_dx(codes)
        unmapped.update(c for c in set(codes) if c not in SNOMED_MAP)
        ys.append(classes.index(cls))
        meta_row = {"record": rel, "dx": ",".join(map(str, codes)), "label_code": code or 0,
                    "fs_orig": rate, "n_samples_orig": int(raw.shape[1]), "n_samples_at_fs": int(sig.shape[1]),
                    "padded": sig.shape[1] < n_timesteps, "truncated": sig.shape[1] > n_timesteps,
                    "flat_leads": n_flat}
        for line in rec.comments:
            head, sep, rest = line.partition(":")
            if sep and head.strip().lower() in ("age", "sex"):
                meta_row[head.strip().lower()] = rest.strip()
        rows.append(meta_row)

    skipped.warn("CinC")
    warn_flat("CinC", flat_records)
    if not rows:
        raise ValueError(f"No usable CinC record below {root} ({len(skipped)} skipped).")
    y = np.asarray(ys, dtype=np.int64)
    n_other = int((y == classes.index("OTHER")).sum())
    if unmapped:
        top = ", ".join(f"{c} x{n}" for c, n in unmapped.most_common(5))
        warnings.warn(f"CinC: {len(unmapped)} SNOMED code(s) outside the 8-class map (most frequent: {top}); "
                      f"{n_other} record(s) labelled OTHER. Counts in data.meta.attrs['unmapped_dx'].", stacklevel=3)
    meta = pd.DataFrame(rows)
    meta.attrs["skipped"] = skipped.as_records()
    meta.attrs["unmapped_dx"] = {str(c): n for c, n in unmapped.most_common()}
    meta.attrs["class_order"] = class_order
    return ECGData(signals=stack.array(), labels=y, class_names=list(classes), fs=float(target or 0.0),
                   lead_names=lead_names, meta=meta, splits=stratified_split(y, seed), name=f"cinc2020-{root.name}")


def warn_truncated(data: ECGData, n_timesteps: int) -> None:
    """One warning counting the records cut to ``n_timesteps`` (``meta['truncated']``), if any.

    Example:
        >>> meta = pd.DataFrame({"truncated": [True, False], "n_samples_at_fs": [5000, 900]})
        >>> d = ECGData(np.zeros((2, 1, 1000)), [0, 1], ["a", "b"], fs=500, meta=meta)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always"); warn_truncated(d, 1000)
        >>> str(w[0].message)[:62]
        'CinC: 1 of 2 record(s) are longer than n_timesteps=1000 (2 s a'
    """
    meta = data.meta
    if "truncated" not in meta or not meta["truncated"].any():
        return
    cut = meta.loc[meta["truncated"].astype(bool), "n_samples_at_fs"]
    fs = float(data.fs)
    warnings.warn(f"CinC: {len(cut)} of {len(meta)} record(s) are longer than n_timesteps={n_timesteps} "
                  f"({n_timesteps / fs:g} s at {fs:g} Hz) and keep only their first {n_timesteps} samples (cut "
                  f"records: median {int(cut.median())} samples = {cut.median() / fs:g} s, longest {int(cut.max())}). "
                  f"Pass n_timesteps={int(cut.max())} to keep whole records; meta['truncated'] marks the cut ones.",
                  stacklevel=3)


def load_cinc2020(root: str | Path, n_timesteps: int = 1000, normalize: bool = True, seed: int = 42,
                  cache_dir: str | Path | None = None, on_error: str = "raise", progress: bool = True,
                  fs: float | None = None, class_order: str = "kit") -> ECGData:
    """Load a PhysioNet/CinC 2020/2021 set (CPSC 2018, Georgia, ...) as (N, leads, n_timesteps) float32, 8 classes.

    Args:
        root: folder with the ``.hea`` + ``.mat`` records (searched recursively).
        n_timesteps: samples kept per record at the target rate: the first ones, zero-padded at
            the end when shorter (paper: 1000 for CPSC 2018, 5000 for Georgia). Cut records are
            counted in a warning and marked in ``meta['truncated']``.
        normalize: z-score every record per lead on its real samples (before padding).
        seed: seed of the stratified 80/10/10 split.
        cache_dir: cache the result there (memory-mapped later); the key holds every argument, the
            resolved root and a digest of the header files' names and sizes.
        on_error: ``"raise"`` on the first bad record, or ``"skip"`` it (listed in
            ``data.meta.attrs['skipped']`` and warned about).
        progress: show a tqdm progress bar while reading.
        fs: target sampling rate in Hz: records at another rate are resampled to it (polyphase,
            ``scipy.signal.resample_poly``). None: every record must have the first record's rate.
        class_order: ``"kit"`` (:data:`CINC_CLASSES`) or ``"reference"`` (:data:`CINC_CLASSES_REFERENCE`,
            the ERTS authors' label indices).

    Returns:
        ECGData, classes in the chosen order; meta columns ``record, dx, label_code, fs_orig,
        n_samples_orig, n_samples_at_fs, padded, truncated, flat_leads, age, sex``;
        ``meta.attrs['unmapped_dx']``, ``meta.attrs['class_order']``.

    Raises:
        FileNotFoundError: missing folder or no header in it.
        RecordReadError: a bad record with ``on_error="raise"`` (a ValueError naming the file).

    Example:
        >>> data = load_cinc2020("data/cinc2021", fs=500, n_timesteps=5000)  # doctest: +SKIP
        >>> data.class_names  # doctest: +SKIP
        ['NORM', 'AF', 'AVB', 'LBBB', 'RBBB', 'PVC/PAC', 'ST', 'OTHER']
    """
    check_int("n_timesteps", n_timesteps, minimum=1)
    check_int("seed", seed, minimum=0)
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    check_choice("class_order", class_order, list(CLASS_ORDERS))
    if fs is not None:
        check_range("fs", fs, low=0.0, high=1e6, low_inclusive=False)
        fs = float(fs)
    root = Path(root).expanduser()
    if cache_dir is None:
        data = _build_cinc(root, n_timesteps, normalize, seed, on_error, progress, fs, class_order)
    else:
        headers = _find_headers(root)
        key = {"reader": "cinc2020", "reader_version": READER_VERSION, "root": str(root.resolve()),
               "n_timesteps": n_timesteps, "normalize": bool(normalize), "seed": seed, "on_error": on_error,
               "fs": fs, "class_order": class_order,
               "headers_sha256": hashlib.sha256(json.dumps(
                   [[str(h.relative_to(root)), h.stat().st_size] for h in headers]).encode()).hexdigest()}
        data = load_cached_records("CinC", lambda: _build_cinc(root, n_timesteps, normalize, seed, on_error,
                                                               progress, fs, class_order), cache_dir, key)
    warn_truncated(data, n_timesteps)
    return data
