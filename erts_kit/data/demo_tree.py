"""A tiny MIT-BIH-like WFDB tree written from the synthetic generator, for tours and offline demos.

Real records cannot ship with the kit; this writes a few 2-lead, 360 Hz records (``.hea``/``.dat``
with ``wfdb.wrsamp``, beat annotations ``.atr`` with ``wfdb.wrann``) that :func:`load_mitbih` reads
like the real database.
"""
from __future__ import annotations

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
