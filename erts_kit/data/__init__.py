"""ECG data: the synthetic benchmark, the PTB-XL / CinC 2020 / MIT-BIH readers, cache, Dataset.

:func:`load_dataset` is the one entry point by name (what the ``erts-kit`` command and the
experiment runner call); the readers are re-exported for direct use.

Example:
    >>> from erts_kit.data import load_dataset
    >>> d = load_dataset("synthetic", n_samples=12, n_leads=1, seed=0)
    >>> d.name, d.signals.shape
    ('synthetic', (12, 1, 1000))
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._validation import check_choice
from .cache import cached
from .cinc import load_cinc2020
from .dataset import ECGData, ECGDataset
from .demo_tree import write_mitbih_demo_tree
from .download import download_database
from .mitbih import DS1, DS2, load_mitbih, rr_features
from .normalize import zscore_per_lead
from .protocol import inter_patient_splits, record_folds
from .ptbxl import load_ptbxl
from .synthetic import CLASS_EVIDENCE, SYNTHETIC_CLASSES, make_synthetic

__all__ = [
    "CLASS_EVIDENCE",
    "DATASETS",
    "DEFAULT_DATA_DIRS",
    "DS1",
    "DS2",
    "SYNTHETIC_CLASSES",
    "ECGData",
    "ECGDataset",
    "cached",
    "download_database",
    "load_cinc2020",
    "load_dataset",
    "load_mitbih",
    "inter_patient_splits",
    "load_ptbxl",
    "make_synthetic",
    "record_folds",
    "rr_features",
    "write_mitbih_demo_tree",
    "zscore_per_lead",
]

DATASETS: tuple[str, ...] = ("synthetic", "ptbxl", "cinc", "mitbih")
"""Names :func:`load_dataset` accepts."""

DEFAULT_DATA_DIRS: dict[str, str] = {"ptbxl": "data/ptbxl", "cinc": "data/cpsc2018", "mitbih": "data/mitdb"}
"""Where each real database is looked for when no ``data_dir`` is given (relative to the working folder)."""

_HOW_TO_GET = {
    "ptbxl": "download it with `erts-kit download ptbxl --dir {d}` (about 1 GB at 100 Hz)",
    "mitbih": "download it with `erts-kit download mitbih --dir {d}` (about 100 MB)",
    "cinc": ("download the PhysioNet/CinC Challenge 2020 training set (CPSC 2018: WFDB_CPSC2018, Georgia: "
             "WFDB_Ga) from https://physionet.org/content/challenge-2020/ and unpack it into {d}"),
}


def _missing(name: str, root: Path) -> str | None:
    """What a folder lacks to hold database ``name`` (None: it looks complete enough to try)."""
    if not root.is_dir():
        return f"the folder {root} does not exist"
    if name == "ptbxl":
        lacking = [f for f in ("ptbxl_database.csv", "scp_statements.csv") if not (root / f).is_file()]
        if not any((root / f"records{fs}").is_dir() for fs in (100, 500)):
            lacking.append("records100/ (or records500/)")
        return f"{root} lacks {', '.join(lacking)}" if lacking else None
    if name == "mitbih":
        return None if any(root.glob("*.hea")) else f"{root} holds no MIT-BIH record (expected 100.hea/.dat/.atr, ...)"
    if name == "cinc":
        return None if next(root.rglob("*.hea"), None) is not None else \
            f"{root} holds no CinC 2020 record (expected A0001.hea + A0001.mat, ... anywhere below it)"
    return None


def load_dataset(name: str, data_dir: str | Path | None = None, **kw: Any) -> ECGData:
    """Load a dataset by name: ``'synthetic'``, ``'ptbxl'``, ``'cinc'`` or ``'mitbih'``.

    Args:
        name: dataset name (see :data:`DATASETS`).
        data_dir: folder of a real database (default :data:`DEFAULT_DATA_DIRS`); unused for ``synthetic``.
            MIT-BIH: several folders separated by commas (``"data/ds1,data/ds2"``).
        **kw: passed to the reader: :func:`make_synthetic` (plus ``normalize=True``: z-score per
            sample and lead, as for the real databases; the generator itself returns mV),
            :func:`load_ptbxl`, :func:`load_cinc2020` or :func:`load_mitbih`.

    Returns:
        :class:`ECGData`.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        FileNotFoundError: the folder does not hold the database; the message says what is missing
            and how to get it.

    Example:
        >>> load_dataset("ptb")
        Traceback (most recent call last):
        ...
        ValueError: Unknown dataset 'ptb': expected one of 'synthetic', 'ptbxl', 'cinc', 'mitbih'.
    """
    check_choice("dataset", name, DATASETS)
    settings = {"dataset": name, **kw}
    if name == "synthetic":
        normalize = kw.pop("normalize", True)
        data = make_synthetic(**kw)
        if normalize:
            data.signals = zscore_per_lead(data.signals)
        data.load_settings = settings  # recorded by run folders (erts_kit.data.identity)
        return data
    text = str(data_dir if data_dir is not None else DEFAULT_DATA_DIRS[name])
    # MIT-BIH may come from several folders (DS1 and DS2 kept apart): "ds1,ds2"
    parts = [t.strip() for t in text.split(",") if t.strip()] if name == "mitbih" else [text]
    roots = [Path(t).expanduser() for t in parts]
    for root in roots:
        problem = _missing(name, root)
        if problem is not None:
            raise FileNotFoundError(f"Cannot load {name!r}: {problem}. To get it, "
                                    f"{_HOW_TO_GET[name].format(d=root)}; or pass --data-dir / data_dir= "
                                    "pointing at the folder that holds it.")
    reader = {"ptbxl": load_ptbxl, "cinc": load_cinc2020, "mitbih": load_mitbih}[name]
    data = reader(roots if len(roots) > 1 else roots[0], **kw)
    data.load_settings = {**settings, "data_dir": ",".join(str(r) for r in roots)}
    return data
