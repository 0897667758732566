"""A tiny MIT-BIH-like WFDB tree written from the synthetic generator, for tours and offline demos.

Real records cannot ship with the kit; this writes a few 2-lead, 360 Hz records (``.hea``/``.dat``
with ``wfdb.wrsamp``, beat annotations ``.atr`` with ``wfdb.wrann``) that :func:`load_mitbih` reads
like the real database.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import find_peaks

from .synthetic import make_synthetic

_SYMBOL_OF = {"PVC": "V", "PAC": "A", "NORM": "N"}


def write_mitbih_demo_tree(dest: str | Path, seconds: float = 30.0, seed: int = 42,
                           records: Sequence[str] = ("101", "106", "100")) -> Path:
    """Write one synthetic record per name into ``dest``: a PVC, a PAC and a normal rhythm (cycled).

    Every beat is annotated ``N`` except the premature beat of a PVC (``V``) or PAC (``A``) record.
    Use record names from DS1/DS2 (e.g. ``"101"`` in DS1, ``"100"`` in DS2) so the inter-patient split
    of :func:`erts_kit.data.load_mitbih` has something on both sides.

    Args:
        dest: folder to write into (created).
        seconds: record length in seconds.
        seed: seed of the synthetic generator.
        records: record names to write.

    Returns:
        the folder.

    Example:
        >>> import tempfile
        >>> tree = write_mitbih_demo_tree(tempfile.mkdtemp(), seconds=10, records=["101"])
        >>> sorted(p.suffix for p in tree.iterdir())
        ['.atr', '.dat', '.hea']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    kinds = [list(_SYMBOL_OF)[i % len(_SYMBOL_OF)] for i in range(len(records))]
    demo = make_synthetic(n_samples=len(records), n_leads=2, fs=360, duration_s=seconds, seed=seed,
                          classes=list(_SYMBOL_OF))
    classes = demo.meta["class_true"].tolist()
    pool = list(range(len(records)))
    for rec, kind in zip(records, kinds):
        i = next((j for j in pool if classes[j] == kind), pool[0])  # the wanted class if the draw has it
        pool.remove(i)
        sig = demo.signals[i].T.astype(np.float64)  # (T, 2) in mV
        peaks, _ = find_peaks(np.abs(sig[:, 0] - np.median(sig[:, 0])), distance=int(0.3 * demo.fs),
                              prominence=0.5)
        symbols = np.full(len(peaks), "N", dtype=object)
        event = demo.meta["event_time_s"].iloc[i]
        cls = demo.meta["class_true"].iloc[i]
        if np.isfinite(event) and len(peaks):
            symbols[np.abs(peaks / demo.fs - event).argmin()] = _SYMBOL_OF[cls]
        wfdb.wrsamp(rec, fs=demo.fs, units=["mV", "mV"], sig_name=list(demo.lead_names), p_signal=sig,
                    fmt=["212", "212"], write_dir=str(dest))
        wfdb.wrann(rec, "atr", peaks, list(symbols), write_dir=str(dest))
    return dest


def _beat_shape(kind: str, t: np.ndarray) -> np.ndarray:
    """One beat (mV) around its R peak at t = 0 s: narrow QRS (N, S), wide inverted (V), a blend (F)."""
    narrow = 1.2 * np.exp(-0.5 * (t / 0.012) ** 2) + 0.25 * np.exp(-0.5 * ((t - 0.25) / 0.04) ** 2)
    wide = -1.4 * np.exp(-0.5 * (t / 0.045) ** 2) + 0.3 * np.exp(-0.5 * ((t - 0.3) / 0.06) ** 2)
    return {"N": narrow, "S": narrow, "V": wide, "F": 0.5 * (narrow + wide)}[kind]


def write_mitbih_beats_tree(root: str | Path, records: Sequence[str], seconds: float = 60.0, seed: int = 0,
                           shares: dict[str, float] | None = None) -> Path:
    """MIT-BIH-like records (360 Hz, leads MLII + V1, ``atr`` beats) whose beats follow the textbook rules.

    N beats come at the record's own pace (RR 0.65-1.0 s, drawn per record, +-3% jitter); S beats
    have the N shape but come early (RR 0.6x the pace, followed by a 1.3x pause); V beats are wide and
    inverted, early (0.7x) with a compensatory pause; F beats blend both shapes at the normal pace.
    So an S beat differs from an N beat by its timing only, and only RR features can find it. Used
    by the tests, the benchmark's smoke mode and notebook 09's smoke mode (no real record ships).

    Args:
        root: folder to write into (created).
        records: record names (use DS1/DS2 names so the reader's splits apply).
        seconds: length of each record.
        seed: seed of the paces, the beat classes and the noise.
        shares: class -> share of the beats (default N 0.7, S 0.12, V 0.12, F 0.06).

    Example:
        >>> import tempfile
        >>> tree = write_mitbih_beats_tree(tempfile.mkdtemp(), ["101"], seconds=20)
        >>> ann = wfdb.rdann(str(tree / "101"), "atr")
        >>> set(ann.symbol) <= {"N", "A", "V", "F"}, len(ann.symbol) > 15
        (True, True)
    """
    root = Path(root)
    shares = shares or {"N": 0.7, "S": 0.12, "V": 0.12, "F": 0.06}
    kinds, probs = list(shares), np.array(list(shares.values()), dtype=float)
    symbol = {"N": "N", "S": "A", "V": "V", "F": "F"}
    fs, t_beat = 360, np.arange(-0.4, 0.6, 1 / 360)
    for k, rec in enumerate(records):
        rng = np.random.default_rng(seed * 1000 + k)
        pace, n = rng.uniform(0.65, 1.0), int(seconds * fs)
        sig = 0.03 * rng.standard_normal(n)
        pos, syms, t, prev = [], [], 0.5, "N"
        while True:
            kind = "N" if prev in ("S", "V") else str(rng.choice(kinds, p=probs / probs.sum()))
            gap = pace * {"N": 1.0, "F": 1.0, "S": 0.6, "V": 0.7}[kind] * rng.uniform(0.97, 1.03)
            if prev in ("S", "V"):
                gap = pace * (1.3 if prev == "S" else 1.5)
            t += gap
            if t > seconds - 0.7:
                break
            r = int(round(t * fs))
            idx = r + np.round(t_beat * fs).astype(int)
            sig[idx] += _beat_shape(kind, t_beat) * rng.uniform(0.9, 1.1)
            pos.append(r)
            syms.append(symbol[kind])
            prev = kind
        root.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # wfdb + pandas 3: deprecation noise from wfdb's own code
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*inplace.*")
            wfdb.wrsamp(rec, fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"],
                        p_signal=np.column_stack([sig, -0.5 * sig]), fmt=["16", "16"], adc_gain=[1000.0, 1000.0],
                        baseline=[0, 0], write_dir=str(root))
        wfdb.wrann(rec, "atr", np.array(pos), symbol=syms, write_dir=str(root))
    return root
