"""PhysioNet/CinC Challenge 2020 reader: CPSC 2018, Georgia 2020 (and other sets in that layout).

Expected folder: ``.hea`` + ``.mat`` pairs anywhere below ``root`` (searched recursively). The
``.mat`` is a MATLAB v4 file holding ``val`` (leads, T) int16; its header names it with format
``16+24`` (24-byte MATLAB header), so ``wfdb.rdrecord`` reads it as an ordinary WFDB record.
Diagnoses are SNOMED-CT codes on a header comment line ``#Dx: 426783006,164889003``.

Labels (ERTS paper, 8 classes): the first code of the Dx list found in :data:`SNOMED_MAP` gives
the class; a record none of whose codes is mapped is OTHER. Unmapped codes are counted
(``data.meta.attrs['unmapped_dx']``: code -> number of records) and summarised in a warning.

Signals are cut to the first ``n_timesteps`` samples or zero-padded at the end (CPSC in the paper:
1000 samples at 500 Hz; Georgia: 5000), z-scored per lead on the real samples before padding.
All records must share one sampling rate and lead count (the first record's); others are bad
records. Split: stratified 80/10/10 with ``sklearn.model_selection.train_test_split`` and
``seed`` (falls back to an unstratified split, with a warning, when a class is too rare).

Bad records (unreadable, NaN, all leads flat, no ``#Dx:`` line, non-numeric Dx codes, other fs or
lead count) raise a :class:`~erts_kit.data._wfdb_io.RecordReadError` naming the file, or are
skipped with ``on_error="skip"`` (listed in ``data.meta.attrs['skipped']``).
"""
from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from .._validation import check_choice, check_int
from ._wfdb_io import (ON_ERROR_CHOICES, RecordReadError, SignalStack, SkipReport, handle_error, prepare_signal,
                       load_cached_records, read_record, warn_flat)
from .dataset import ECGData

CINC_CLASSES = ["NORM", "AF", "AVB", "LBBB", "RBBB", "PVC/PAC", "ST", "OTHER"]
SNOMED_MAP: dict[int, str] = {
    426783006: "NORM",
    164889003: "AF", 164890007: "AF",                                  # fibrillation, flutter
    270492004: "AVB", 195042002: "AVB", 27885002: "AVB",               # 1st degree, 2nd degree, complete
    164909002: "LBBB",
    59118001: "RBBB", 713427006: "RBBB", 713426002: "RBBB",            # RBBB, complete, incomplete
    427172004: "PVC/PAC", 17338001: "PVC/PAC", 284470004: "PVC/PAC", 63593006: "PVC/PAC",
    429622005: "ST", 164931005: "ST",                                  # depression, elevation
}
READER_VERSION = 1


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
                                              f"got {rest.strip()!r}")
            return [int(c) for c in codes]
    raise RecordReadError(record, "no '#Dx:' line in the header (is this a PhysioNet/CinC 2020 record?)")


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


def _build_cinc(root: Path, n_timesteps: int, normalize: bool, seed: int, on_error: str,
                progress: bool) -> ECGData:
    headers = _find_headers(root)
    skipped = SkipReport()
    stack = SignalStack(len(headers))
    rows, ys, flat_records = [], [], []
    unmapped: Counter[int] = Counter()
    fs: float | None = None
    lead_names: list[str] | None = None
    for hea in tqdm(headers, desc="CinC 2020", disable=not progress):
        rel = str(hea.relative_to(root).with_suffix(""))
        rec_name = f"{rel} ({hea})"
        rec = read_record(hea.with_suffix(""), on_error, skipped, name=rec_name)
        if rec is None:
            continue
        try:
            codes = parse_dx(rec.comments, rec_name)
            sig = rec.p_signal.T  # (leads, T)
            if fs is not None and (rec.fs != fs or sig.shape[0] != len(lead_names or [])):
                raise RecordReadError(rec_name, f"{sig.shape[0]} leads at {rec.fs:g} Hz, expected "
                                                f"{len(lead_names or [])} leads at {fs:g} Hz like the first record")
            x, n_flat = prepare_signal(sig[:, :n_timesteps], rec_name, normalize)  # z-score before padding
        except RecordReadError as err:
            handle_error(err, on_error, skipped)
            continue
        if fs is None:
            fs, lead_names = float(rec.fs), list(rec.sig_name)
        stack.append(fit_length(x, n_timesteps))
        if n_flat:
            flat_records.append(rel)
        cls, code = map_dx(codes)
        unmapped.update(c for c in set(codes) if c not in SNOMED_MAP)
        ys.append(CINC_CLASSES.index(cls))
        meta_row = {"record": rel, "dx": ",".join(map(str, codes)), "label_code": code or 0,
                    "n_samples_orig": int(sig.shape[1]), "padded": sig.shape[1] < n_timesteps, "flat_leads": n_flat}
        for line in rec.comments:
            head, sep, rest = line.partition(":")
            if sep and head.strip().lower() in ("age", "sex"):
                meta_row[head.strip().lower()] = rest.strip()
        rows.append(meta_row)

    skipped.warn("CinC 2020")
    warn_flat("CinC 2020", flat_records)
    if not rows:
        raise ValueError(f"No usable CinC 2020 record below {root} ({len(skipped)} skipped).")
    y = np.asarray(ys, dtype=np.int64)
    n_other = int((y == CINC_CLASSES.index("OTHER")).sum())
    if unmapped:
        top = ", ".join(f"{c} x{n}" for c, n in unmapped.most_common(5))
        warnings.warn(f"CinC 2020: {len(unmapped)} SNOMED code(s) outside the 8-class map (most frequent: {top}); "
                      f"{n_other} record(s) labelled OTHER. Counts in data.meta.attrs['unmapped_dx'].", stacklevel=3)
    meta = pd.DataFrame(rows)
    meta.attrs["skipped"] = skipped.as_records()
    meta.attrs["unmapped_dx"] = {str(c): n for c, n in unmapped.most_common()}
    return ECGData(signals=stack.array(), labels=y, class_names=list(CINC_CLASSES), fs=float(fs or 0.0),
                   lead_names=lead_names, meta=meta, splits=stratified_split(y, seed), name=f"cinc2020-{root.name}")


def load_cinc2020(root: str | Path, n_timesteps: int = 1000, normalize: bool = True, seed: int = 42,
                  cache_dir: str | Path | None = None, on_error: str = "raise", progress: bool = True) -> ECGData:
    """Load a PhysioNet/CinC 2020 set (CPSC 2018, Georgia, ...) as (N, 12, n_timesteps) float32, 8 classes.

    Args:
        root: folder with the ``.hea`` + ``.mat`` records (searched recursively).
        n_timesteps: samples kept per record: the first ones, zero-padded at the end when shorter
            (paper: 1000 for CPSC 2018, 5000 for Georgia).
        normalize: z-score every record per lead on its real samples (before padding).
        seed: seed of the stratified 80/10/10 split.
        cache_dir: cache the result there (memory-mapped later); the key holds every argument, the
            resolved root and a digest of the header files' names and sizes.
        on_error: ``"raise"`` on the first bad record, or ``"skip"`` it (listed in
            ``data.meta.attrs['skipped']`` and warned about).
        progress: show a tqdm progress bar while reading.

    Returns:
        ECGData, classes :data:`CINC_CLASSES`; meta columns ``record, dx, label_code,
        n_samples_orig, padded, flat_leads, age, sex``; ``meta.attrs['unmapped_dx']``.

    Raises:
        FileNotFoundError: missing folder or no header in it.
        RecordReadError: a bad record with ``on_error="raise"`` (a ValueError naming the file).

    Example:
        >>> data = load_cinc2020("data/cpsc2018", n_timesteps=1000)  # doctest: +SKIP
        >>> data.class_names  # doctest: +SKIP
        ['NORM', 'AF', 'AVB', 'LBBB', 'RBBB', 'PVC/PAC', 'ST', 'OTHER']
    """
    check_int("n_timesteps", n_timesteps, minimum=1)
    check_int("seed", seed, minimum=0)
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    root = Path(root).expanduser()
    if cache_dir is None:
        return _build_cinc(root, n_timesteps, normalize, seed, on_error, progress)
    headers = _find_headers(root)
    key = {"reader": "cinc2020", "reader_version": READER_VERSION, "root": str(root.resolve()),
           "n_timesteps": n_timesteps, "normalize": bool(normalize), "seed": seed, "on_error": on_error,
           "headers_sha256": hashlib.sha256(json.dumps(
               [[str(h.relative_to(root)), h.stat().st_size] for h in headers]).encode()).hexdigest()}
    return load_cached_records("CinC 2020", lambda: _build_cinc(root, n_timesteps, normalize, seed, on_error, progress), cache_dir, key)
