"""PTB-XL reader (Wagner et al. 2020, PhysioNet): 21,799 12-lead 10 s ECGs, 100 or 500 Hz.

Expected folder (as PhysioNet ships it; ``erts-kit download ptbxl --dir <root>`` fetches it)::

    <root>/ptbxl_database.csv     ecg_id, patient_id, scp_codes, strat_fold, filename_lr, filename_hr, ...
    <root>/scp_statements.csv     one row per SCP code, column diagnostic_class
    <root>/records100/00000/00001_lr.{hea,dat}   (and/or records500/.../00001_hr)

Labels:

* ``"paper"`` (ERTS paper): one superclass per record, the ``diagnostic_class`` of the SCP code
  with the highest likelihood among the record's codes that have a diagnostic_class; NORM when
  none has one. Ties go to the code listed first in ``scp_codes`` (Python's ``max`` order).
  Codes with likelihood 0 ("unknown" in PTB-XL) take part, ranked lowest.
* ``"multilabel"`` (Strodthoff et al. 2021 benchmark): multi-hot over NORM, MI, STTC, CD, HYP,
  every diagnostic code counted whatever its likelihood. Records without any diagnostic
  superclass keep an all-zero row (that benchmark drops them; filter on
  ``meta['superclasses'] == ''`` to do the same).

Splits: ``strat_fold`` 1-8 train, 9 val, 10 test (the recommended PTB-XL split).

Bad records: unreadable/truncated files, wrong shape, NaN samples or every lead flat raise a
:class:`~erts_kit.data._wfdb_io.RecordReadError` naming the record; with ``on_error="skip"`` they
are left out, listed in ``data.meta.attrs['skipped']`` (list of ``{"record", "reason"}``) and
reported in one warning. Records with some flat leads are kept (those leads are zeros after
z-scoring), counted in ``meta['flat_leads']`` and reported in one warning.
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_choice, format_list
from ._wfdb_io import (
    ON_ERROR_CHOICES,
    RecordReadError,
    SignalStack,
    SkipReport,
    file_stamp,
    handle_error,
    load_cached_records,
    prepare_signal,
    read_record,
    warn_flat,
)
from .dataset import ECGData

PTBXL_CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]
READER_VERSION = 1
_SPLIT_OF_FOLD = {**{f: "train" for f in range(1, 9)}, 9: "val", 10: "test"}


def _download_hint(root: Path, fs: int) -> str:
    extra = " --fs 500" if fs == 500 else ""
    return f"Download PTB-XL with `erts-kit download ptbxl --dir {root}{extra}`, or pass the folder that holds it."


def parse_scp_codes(text: str) -> dict[str, float]:
    """Parse PTB-XL's ``scp_codes`` cell (a Python dict literal) safely with ``ast.literal_eval``.

    Example:
        >>> parse_scp_codes("{'IMI': 100.0, 'NORM': 50.0}")
        {'IMI': 100.0, 'NORM': 50.0}
    """
    try:
        codes = ast.literal_eval(text) if isinstance(text, str) else None
        if isinstance(codes, dict):
            return {str(k): float(v) for k, v in codes.items()}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass  # not a literal, or a likelihood that is not a number
    raise ValueError(f"Expected scp_codes like \"{{'NORM': 100.0}}\", got {text!r}.")


def paper_label(codes: Mapping[str, float], code_class: Mapping[str, str]) -> tuple[str, str | None]:
    """The ERTS paper's single label: superclass of the most likely diagnostic SCP code.

    Args:
        codes: SCP code -> likelihood (0-100).
        code_class: SCP code -> diagnostic_class (codes without a class absent).

    Returns:
        (superclass, winning code); ``("NORM", None)`` when no code has a diagnostic class.
        Ties: the code listed first wins.

    Example:
        >>> classes = {"IMI": "MI", "NORM": "NORM", "LVH": "HYP"}
        >>> paper_label({"IMI": 100.0, "NORM": 50.0}, classes)
        ('MI', 'IMI')
        >>> paper_label({"SR": 0.0}, classes), paper_label({"LVH": 50.0, "IMI": 50.0}, classes)
        (('NORM', None), ('HYP', 'LVH'))
    """
    diag = [(c, p) for c, p in codes.items() if c in code_class]
    if not diag:
        return "NORM", None
    code = max(diag, key=lambda cp: cp[1])[0]
    return code_class[code], code


def multilabel_row(codes: Mapping[str, float], code_class: Mapping[str, str]) -> np.ndarray:
    """Multi-hot float32 (5,) over NORM, MI, STTC, CD, HYP of every diagnostic code present.

    Example:
        >>> multilabel_row({"IMI": 100.0, "LVH": 0.0, "SR": 0.0}, {"IMI": "MI", "LVH": "HYP"}).tolist()
        [0.0, 1.0, 0.0, 0.0, 1.0]
    """
    row = np.zeros(len(PTBXL_CLASSES), dtype=np.float32)
    for c in codes:
        if code_class.get(c) in PTBXL_CLASSES:
            row[PTBXL_CLASSES.index(code_class[c])] = 1.0
    return row


def _check_paths(root: Path, fs: int) -> None:
    """Cheap existence checks, with the download command in every message."""
    if not root.is_dir():
        raise FileNotFoundError(f"PTB-XL folder {root} does not exist. {_download_hint(root, fs)}")
    for p in (root / "ptbxl_database.csv", root / "scp_statements.csv"):
        if not p.is_file():
            raise FileNotFoundError(f"PTB-XL table {p} not found (expected ptbxl_database.csv and "
                                    f"scp_statements.csv in {root}). {_download_hint(root, fs)}")
    rec_dir = root / f"records{fs}"
    if not rec_dir.is_dir():
        raise FileNotFoundError(f"PTB-XL {fs} Hz records folder {rec_dir} not found. {_download_hint(root, fs)}")


def _read_csv(path: Path, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` whose parse errors (empty file, garbled text, not UTF-8) name the file."""
    try:
        return pd.read_csv(path, **kw)
    except ValueError as exc:  # EmptyDataError, ParserError, UnicodeDecodeError are ValueErrors
        raise ValueError(f"Cannot read the PTB-XL table {path} ({type(exc).__name__}: {exc}): it is empty or "
                         "not a CSV file. Re-download the database.") from None


def _read_tables(root: Path, fs: int) -> tuple[pd.DataFrame, dict[str, str]]:
    _check_paths(root, fs)
    db_path, st_path = root / "ptbxl_database.csv", root / "scp_statements.csv"
    db = _read_csv(db_path)
    column = "filename_lr" if fs == 100 else "filename_hr"
    missing = [c for c in ("ecg_id", "scp_codes", "strat_fold", column) if c not in db.columns]
    if missing:
        raise ValueError(f"Expected columns {missing} in {db_path}, got {list(db.columns)}: "
                         f"is this PTB-XL's ptbxl_database.csv? {_download_hint(root, fs)}")
    ids = pd.to_numeric(db["ecg_id"], errors="coerce")
    bad_ids = db.loc[ids.isna() | (ids % 1 != 0), "ecg_id"].tolist()
    if bad_ids:
        raise ValueError(f"Expected integer ecg_id values in {db_path}, got {format_list(bad_ids)}.")
    no_file = db.loc[~db[column].map(lambda v: isinstance(v, str) and bool(v.strip())), "ecg_id"].tolist()
    if no_file:
        raise ValueError(f"Expected a {column} path for every record in {db_path}, missing for ecg_id "
                         f"{format_list(no_file)}.")
    folds = pd.to_numeric(db["strat_fold"], errors="coerce")
    bad = db.loc[~folds.isin(list(_SPLIT_OF_FOLD)), "ecg_id"].tolist()
    if bad:
        raise ValueError(f"Expected strat_fold in 1..10 in {db_path}, got other values for ecg_id "
                         f"{format_list(bad)}.")
    stmts = _read_csv(st_path, index_col=0)
    if "diagnostic_class" not in stmts.columns:
        raise ValueError(f"Expected a diagnostic_class column in {st_path}, got {list(stmts.columns)}.")
    code_class = {str(k): str(v) for k, v in stmts["diagnostic_class"].dropna().items()}
    return db, code_class


def _build_ptbxl(root: Path, fs: int, labels: str, normalize: bool, on_error: str, progress: bool) -> ECGData:
    db, code_class = _read_tables(root, fs)
    column = "filename_lr" if fs == 100 else "filename_hr"
    n_expected = 10 * fs
    skipped = SkipReport()
    stack = SignalStack(len(db))
    rows, ys, flat_records = [], [], []
    lead_names: list[str] | None = None
    for row in tqdm(db.itertuples(index=False), total=len(db), desc=f"PTB-XL {fs} Hz", disable=not progress):
        rel = getattr(row, column)
        rec_name = f"ecg_id {row.ecg_id} ({rel})"
        try:
            codes = parse_scp_codes(row.scp_codes)
        except ValueError as exc:
            handle_error(RecordReadError(rec_name, str(exc)), on_error, skipped)
            continue
        rec = read_record(root / rel, on_error, skipped, name=rec_name)
        if rec is None:
            continue
        try:
            sig = rec.p_signal.T  # (leads, T)
            if lead_names is not None and sig.shape[0] != len(lead_names):
                raise RecordReadError(rec_name, f"{sig.shape[0]} leads, expected {len(lead_names)}")
            if sig.shape[1] != n_expected or round(rec.fs) != fs:
                raise RecordReadError(rec_name, f"{sig.shape[1]} samples at {rec.fs:g} Hz, "
                                                f"expected {n_expected} at {fs} Hz")
            x, n_flat = prepare_signal(sig, rec_name, normalize)
        except RecordReadError as err:
            handle_error(err, on_error, skipped)
            continue
        if lead_names is None:
            lead_names = list(rec.sig_name)
        stack.append(x)
        if n_flat:
            flat_records.append(rec_name)
        if labels == "paper":
            cls, code = paper_label(codes, code_class)
            ys.append(PTBXL_CLASSES.index(cls))
            extra = {"label_code": code or ""}
        else:
            y = multilabel_row(codes, code_class)
            ys.append(y)
            extra = {"superclasses": "|".join(c for c, v in zip(PTBXL_CLASSES, y) if v)}
        meta_row = {"ecg_id": int(row.ecg_id), "filename": rel, "strat_fold": int(row.strat_fold),
                    "scp_codes": row.scp_codes, **extra, "flat_leads": n_flat}
        for opt in ("patient_id", "age", "sex"):
            if hasattr(row, opt):
                meta_row[opt] = getattr(row, opt)
        rows.append(meta_row)

    skipped.warn("PTB-XL")
    warn_flat("PTB-XL", flat_records)
    if not rows:
        raise ValueError(f"No usable PTB-XL record in {root} ({len(skipped)} skipped).")
    meta = pd.DataFrame(rows)
    meta.attrs["skipped"] = skipped.as_records()
    split_names = meta["strat_fold"].map(_SPLIT_OF_FOLD).to_numpy()
    splits = {s: np.flatnonzero(split_names == s) for s in ("train", "val", "test")}
    y_arr = np.asarray(ys, dtype=np.int64) if labels == "paper" else np.stack(ys).astype(np.float32)
    return ECGData(signals=stack.array(), labels=y_arr, class_names=list(PTBXL_CLASSES), fs=float(fs),
                   lead_names=lead_names, meta=meta, splits=splits, name=f"ptbxl{fs}-{labels}")


def load_ptbxl(root: str | Path, fs: int = 100, labels: str = "paper", normalize: bool = True,
               cache_dir: str | Path | None = None, on_error: str = "raise", progress: bool = True) -> ECGData:
    """Load PTB-XL as (N, 12, 10*fs) float32, with the paper's or the multi-label superclasses.

    Args:
        root: folder holding ``ptbxl_database.csv``, ``scp_statements.csv``, ``records{fs}/``.
        fs: 100 (``filename_lr``, 1000 samples) or 500 (``filename_hr``, 5000 samples).
        labels: ``"paper"`` (int64 (N,), one superclass per record) or ``"multilabel"``
            (float32 (N, 5) multi-hot); see the module docstring for the exact rules.
        normalize: z-score every record per lead (flat leads -> zeros).
        cache_dir: if given, the result is cached there (memory-mapped on later loads); the cache
            key holds every argument above, the resolved root and ptbxl_database.csv's size/mtime.
        on_error: ``"raise"`` on the first bad record, or ``"skip"`` it (listed in
            ``data.meta.attrs['skipped']`` and warned about).
        progress: show a tqdm progress bar while reading.

    Returns:
        ECGData with meta columns ``ecg_id, filename, strat_fold, scp_codes, label_code``
        (``superclasses`` in multi-label mode), ``flat_leads``, and ``patient_id, age, sex`` when
        present; splits train (folds 1-8) / val (9) / test (10).

    Raises:
        FileNotFoundError: missing folder, table or records folder (the message gives the
            download command).
        RecordReadError: a bad record with ``on_error="raise"`` (a ValueError naming it).

    Example:
        >>> data = load_ptbxl("data/ptbxl", fs=100)  # doctest: +SKIP
        >>> data.signals.shape, data.class_names  # doctest: +SKIP
        ((21799, 12, 1000), ['NORM', 'MI', 'STTC', 'CD', 'HYP'])
    """
    check_choice("fs", fs, [100, 500])
    check_choice("labels", labels, ["paper", "multilabel"])
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    root = Path(root).expanduser()
    if cache_dir is None:
        return _build_ptbxl(root, fs, labels, normalize, on_error, progress)
    _check_paths(root, fs)  # clear errors before touching the cache
    key = {"reader": "ptbxl", "reader_version": READER_VERSION, "root": str(root.resolve()), "fs": fs,
           "labels": labels, "normalize": bool(normalize), "on_error": on_error,
           "database_csv": file_stamp(root / "ptbxl_database.csv")}
    return load_cached_records("PTB-XL", lambda: _build_ptbxl(root, fs, labels, normalize, on_error, progress), cache_dir, key)
