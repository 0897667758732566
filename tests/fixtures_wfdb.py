"""Builders of small WFDB trees in temporary folders, for tests and benchmarks (no download).

* :func:`write_record` - one WFDB record (``.hea`` + ``.dat``) via ``wfdb.wrsamp``.
* :func:`make_ptbxl_tree` - a PTB-XL-like folder: ``ptbxl_database.csv``, ``scp_statements.csv``,
  ``records100/`` and/or ``records500/``.
* :func:`write_cinc_record` / :func:`make_cinc_tree` - PhysioNet/CinC 2020 layout: ``.mat``
  (MATLAB v4, ``val`` int16 (leads, T), written by ``scipy.io.savemat``) + a hand-written header
  naming it with format ``16+24`` (24-byte MATLAB header), exactly as the challenge files are;
  ``wfdb.rdrecord`` reads them.
* :func:`truncate_signal_file` - corrupt a record by cutting its signal file.

Import from a test as ``from fixtures_wfdb import make_ptbxl_tree`` (pytest puts ``tests/`` on
``sys.path``); a benchmark adds ``tests/`` to ``sys.path`` first.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import wfdb

from erts_kit.data.demo_tree import write_mitbih_beats_tree as make_mitbih_beats_tree  # noqa: F401 - re-export

LEADS_12 = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]

# A subset of PTB-XL's scp_statements.csv: code -> diagnostic_class (None: not a diagnostic statement).
SCP_CLASSES: dict[str, str | None] = {
    "NORM": "NORM", "IMI": "MI", "ASMI": "MI", "NDT": "STTC", "ISC_": "STTC", "LAFB": "CD",
    "IRBBB": "CD", "CLBBB": "CD", "LVH": "HYP", "SR": None, "AFIB": None, "PVC": None,
}


def _demo_signal(rng: np.random.Generator, n_leads: int, n_samples: int, fs: float) -> np.ndarray:
    """(T, leads) mV: a few sinusoids plus noise, different per lead."""
    t = np.arange(n_samples) / fs
    freqs = rng.uniform(0.8, 2.0, size=n_leads)
    sig = 0.8 * np.sin(2 * np.pi * t[:, None] * freqs[None, :]) + 0.05 * rng.normal(size=(n_samples, n_leads))
    return sig + rng.normal(0, 0.2, size=n_leads)[None, :]


def write_record(folder: str | Path, name: str, signal: np.ndarray, fs: float,
                 sig_names: Sequence[str] | None = None, comments: Sequence[str] | None = None) -> Path:
    """Write ``signal`` (T, leads) in mV as WFDB format 16 (gain 1000/mV); return the path without extension.

    Example:
        >>> import tempfile
        >>> p = write_record(tempfile.mkdtemp(), "r1", np.zeros((20, 2)), fs=100)
        >>> wfdb.rdrecord(str(p)).p_signal.shape
        (20, 2)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    signal = np.asarray(signal, dtype=np.float64)
    n_leads = signal.shape[1]
    names = list(sig_names) if sig_names is not None else (LEADS_12 if n_leads == 12 else
                                                            [f"L{i}" for i in range(n_leads)])
    with warnings.catch_warnings():  # wfdb 4.3 + pandas 3: deprecation noise from wfdb's own code
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*inplace.*")
        wfdb.wrsamp(name, fs=fs, units=["mV"] * n_leads, sig_name=names, p_signal=signal, fmt=["16"] * n_leads,
                    adc_gain=[1000.0] * n_leads, baseline=[0] * n_leads, comments=list(comments or []),
                    write_dir=str(folder))
    return folder / name


def make_ptbxl_tree(root: str | Path, scp_codes: Sequence[dict[str, float]], folds: Sequence[int] | None = None,
                    rates: Sequence[int] = (100,), n_leads: int = 12, duration_s: float = 10.0,
                    seed: int = 0, signals: dict[int, np.ndarray] | None = None) -> Path:
    """A PTB-XL-like folder with one record per entry of ``scp_codes`` (ecg_id 1, 2, ...).

    Args:
        root: folder to create.
        scp_codes: per record, the SCP code -> likelihood dict (written as PTB-XL does: a dict string).
        folds: strat_fold per record (default: cycles 1..10).
        rates: which of 100 / 500 Hz to write (``records100/``, ``records500/``).
        n_leads, duration_s: record shape (PTB-XL: 12 leads, 10 s).
        seed: seed of the random demo signals.
        signals: optional ecg_id -> (T, leads) mV signal at 100 Hz to write instead of the demo one
            (only with ``rates=(100,)``).

    Example:
        >>> import tempfile
        >>> root = make_ptbxl_tree(tempfile.mkdtemp(), [{"NORM": 100.0}], n_leads=2, duration_s=1)
        >>> sorted(p.name for p in root.iterdir())
        ['ptbxl_database.csv', 'records100', 'scp_statements.csv']
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    folds = list(folds) if folds is not None else [(i % 10) + 1 for i in range(len(scp_codes))]
    rows = []
    for i, codes in enumerate(scp_codes):
        ecg_id = i + 1
        sub = f"{(ecg_id // 1000) * 1000:05d}"
        row = {"ecg_id": ecg_id, "patient_id": float(1000 + ecg_id), "age": 50.0 + i % 30,
               "sex": i % 2, "scp_codes": repr(dict(codes)), "strat_fold": folds[i],
               "filename_lr": f"records100/{sub}/{ecg_id:05d}_lr", "filename_hr": f"records500/{sub}/{ecg_id:05d}_hr"}
        rows.append(row)
        for fs in rates:
            n = round(duration_s * fs)
            sig = signals[ecg_id] if signals is not None and ecg_id in signals else _demo_signal(rng, n_leads, n, fs)
            rel = row["filename_lr"] if fs == 100 else row["filename_hr"]
            write_record(root / Path(rel).parent, Path(rel).name, sig, fs)
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    stmts = pd.DataFrame({"description": list(SCP_CLASSES),
                          "diagnostic": [1.0 if c else np.nan for c in SCP_CLASSES.values()],
                          "diagnostic_class": [c if c else np.nan for c in SCP_CLASSES.values()]},
                         index=pd.Index(list(SCP_CLASSES)))
    stmts.to_csv(root / "scp_statements.csv")
    return root


def write_cinc_record(folder: str | Path, name: str, val: np.ndarray, fs: float, dx: str,
                      age: str = "60", sex: str = "Male", sig_names: Sequence[str] | None = None,
                      gain: float = 1000.0) -> Path:
    """Write one CinC 2020 record: ``name.mat`` (v4, ``val`` int16 (leads, T)) + ``name.hea``.

    ``dx`` is written verbatim after ``#Dx: `` (e.g. ``"426783006,164889003"``).

    Example:
        >>> import tempfile
        >>> p = write_cinc_record(tempfile.mkdtemp(), "A0001", np.ones((2, 30), np.int16), 500, "426783006")
        >>> r = wfdb.rdrecord(str(p)); r.p_signal.shape, r.comments[2]
        ((30, 2), 'Dx: 426783006')
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    val = np.asarray(val, dtype=np.int16)
    n_leads, n = val.shape
    names = list(sig_names) if sig_names is not None else (LEADS_12 if n_leads == 12 else
                                                            [f"L{i}" for i in range(n_leads)])
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format="4")
    lines = [f"{name} {n_leads} {fs:g} {n}"]
    for i in range(n_leads):
        checksum = ((int(val[i].astype(np.int64).sum()) + 32768) % 65536) - 32768
        lines.append(f"{name}.mat 16+24 {gain:g}/mV 16 0 {int(val[i, 0])} {checksum} 0 {names[i]}")
    lines += [f"#Age: {age}", f"#Sex: {sex}", f"#Dx: {dx}", "#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / name


def make_cinc_tree(root: str | Path, dx: Sequence[str], fs: float = 500, n_samples: int | Sequence[int] = 1200,
                   n_leads: int = 12, seed: int = 0, prefix: str = "A") -> Path:
    """A CinC 2020 folder with one record per ``dx`` entry, named ``A0001``, ``A0002``, ...

    ``n_samples`` may be one length or one per record (CPSC records vary in length).

    Example:
        >>> import tempfile
        >>> root = make_cinc_tree(tempfile.mkdtemp(), ["426783006", "164889003"], n_leads=2, n_samples=40)
        >>> sorted(p.name for p in root.iterdir())
        ['A0001.hea', 'A0001.mat', 'A0002.hea', 'A0002.mat']
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    lengths = [n_samples] * len(dx) if isinstance(n_samples, int) else list(n_samples)
    for i, (codes, n) in enumerate(zip(dx, lengths)):
        val = np.round(_demo_signal(rng, n_leads, n, fs).T * 1000).astype(np.int16)
        write_cinc_record(root, f"{prefix}{i + 1:04d}", val, fs, codes)
    return root


def truncate_signal_file(record_path: str | Path, keep_bytes: int = 10) -> Path:
    """Corrupt a record by cutting its signal file (``.dat`` or ``.mat``) to ``keep_bytes``.

    Example:
        >>> import tempfile
        >>> p = write_record(tempfile.mkdtemp(), "r1", np.zeros((20, 2)), fs=100)
        >>> truncate_signal_file(p).stat().st_size
        10
    """
    record_path = Path(record_path)
    for ext in (".dat", ".mat"):
        f = record_path.with_name(record_path.name + ext)
        if f.exists():
            f.write_bytes(f.read_bytes()[:keep_bytes])
            return f
    raise FileNotFoundError(f"No .dat or .mat file next to {record_path}")

