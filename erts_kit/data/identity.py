"""Which data a run was trained on: a run folder's ``data.json``, and the check that refuses other data.

A selection log and a checkpoint refer to samples by dataset index: opened against another dataset
(other records, other settings, another split) they silently describe the wrong samples. So
:func:`record_run_data` writes, into the run folder, the dataset's name, its load settings (the
keyword arguments :func:`erts_kit.data.load_dataset` got, kept on ``data.load_settings``), its shape,
classes and split sizes, and a fingerprint: a SHA-256 of the class names, the labels and every split's
indices. :func:`check_run_data` compares a folder's record with the data at hand and raises
:class:`DataMismatch` naming both when the fingerprints differ.

Example:
    >>> import tempfile
    >>> a = ECGData(np.zeros((4, 1, 8), np.float32), [0, 1, 0, 1], ["a", "b"], 100, name="demo")
    >>> b = ECGData(np.zeros((4, 1, 8), np.float32), [1, 1, 0, 1], ["a", "b"], 100, name="demo")
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = record_run_data(run, a)
    >>> check_run_data(run, a)["name"]
    'demo'
    >>> check_run_data(run, b)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    erts_kit.data.identity.DataMismatch: ... was trained on demo (n=4, ...fingerprint ...), not on the data given: demo (n=4, ...
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from .dataset import ECGData

__all__ = ["DATA_FILE", "DataMismatch", "check_run_data", "data_fingerprint", "data_identity", "describe_identity",
           "read_run_data", "record_run_data"]

DATA_FILE = "data.json"


class DataMismatch(ValueError):
    """A run folder was trained on other data than the data given; ``recorded`` and ``given`` identities."""

    def __init__(self, message: str, recorded: dict[str, Any], given: dict[str, Any]):
        super().__init__(message)
        self.recorded, self.given = recorded, given


def data_fingerprint(data: ECGData) -> str:
    """SHA-256 (first 16 hex digits) of the class names, the labels and every split's indices.

    Example:
        >>> d = ECGData(np.zeros((2, 1, 8), np.float32), [0, 1], ["a", "b"], 100)
        >>> fp = data_fingerprint(d); len(fp), fp == data_fingerprint(d)
        (16, True)
    """
    h = hashlib.sha256()
    h.update(json.dumps(list(data.class_names)).encode())
    labels = np.ascontiguousarray(np.asarray(data.labels))
    h.update(f"{labels.dtype.str}{labels.shape}".encode())
    h.update(labels.tobytes())
    for name in sorted(data.splits):
        h.update(name.encode())
        h.update(np.ascontiguousarray(np.asarray(data.splits[name], dtype=np.int64)).tobytes())
    return h.hexdigest()[:16]


def _plain(v: Any) -> Any:
    """JSON-ready settings (paths as text, numpy scalars as numbers, anything else as its repr)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v) if isinstance(v, os.PathLike) else repr(v)


def data_identity(data: ECGData) -> dict[str, Any]:
    """What a run folder records about its data: name, load settings, shape, classes, split sizes, fingerprint.

    Example:
        >>> d = ECGData(np.zeros((2, 1, 8), np.float32), [0, 1], ["a", "b"], 100, name="demo")
        >>> ident = data_identity(d); ident["name"], ident["n"], ident["settings"]
        ('demo', 2, {})
    """
    return {"name": data.name, "settings": _plain(dict(getattr(data, "load_settings", None) or {})),
            "n": int(data.n_samples), "leads": int(data.n_leads), "T": int(data.n_timesteps), "fs": float(data.fs),
            "classes": list(data.class_names), "splits": {k: int(len(v)) for k, v in data.splits.items()},
            "fingerprint": data_fingerprint(data)}


def describe_identity(ident: dict[str, Any]) -> str:
    """One line naming a dataset: ``'synthetic (n=150, settings {...}, splits {...}, fingerprint ...)'``.

    Example:
        >>> describe_identity({"name": "demo", "n": 2, "settings": {}, "splits": {}, "fingerprint": "ab"})
        'demo (n=2, settings {}, splits {}, fingerprint ab)'
    """
    return (f"{ident.get('name')} (n={ident.get('n')}, settings {ident.get('settings')}, splits {ident.get('splits')}, "
            f"fingerprint {ident.get('fingerprint')})")


def record_run_data(run_dir: str | os.PathLike, data: ECGData) -> dict[str, Any]:
    """Write ``run_dir/data.json`` (atomically) with :func:`data_identity`; return the identity.

    Example:
        >>> import tempfile
        >>> d = ECGData(np.zeros((2, 1, 8), np.float32), [0, 1], ["a", "b"], 100)
        >>> run = Path(tempfile.mkdtemp())
        >>> record_run_data(run, d) == read_run_data(run)
        True
    """
    ident = data_identity(data)
    path = Path(run_dir) / DATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(json.dumps(ident, indent=1).encode()))
    return ident


def read_run_data(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The identity recorded in ``run_dir/data.json``; None for a folder written before runs recorded it.

    Raises:
        ValueError: the file is damaged (the message names it).

    Example:
        >>> import tempfile
        >>> read_run_data(tempfile.mkdtemp()) is None
        True
    """
    path = Path(run_dir) / DATA_FILE
    if not path.exists():
        return None
    try:
        ident = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is damaged ({exc}): it records which data the run was trained on; delete the "
                         f"run folder {path.parent} and train again.") from None
    if not isinstance(ident, dict) or "fingerprint" not in ident:
        raise ValueError(f"{path} is damaged (expected a JSON object with a 'fingerprint'): delete the run folder "
                         f"{path.parent} and train again.")
    return ident


def check_run_data(run_dir: str | os.PathLike, data: ECGData) -> dict[str, Any] | None:
    """Refuse to open a run folder with other data than it was trained on; the recorded identity if it matches.

    A folder without ``data.json`` (written before runs recorded their data) passes unchecked (None).

    Raises:
        DataMismatch: the fingerprints differ; the message names both datasets and their settings.
        ValueError: ``data.json`` is damaged.

    Example:
        >>> import tempfile
        >>> d = ECGData(np.zeros((2, 1, 8), np.float32), [0, 1], ["a", "b"], 100)
        >>> check_run_data(tempfile.mkdtemp(), d) is None
        True
    """
    recorded = read_run_data(run_dir)
    if recorded is None:
        return None
    given = data_identity(data)
    if recorded.get("fingerprint") == given["fingerprint"]:
        return recorded
    raise DataMismatch(f"The run folder {run_dir} was trained on {describe_identity(recorded)}, not on the data "
                       f"given: {describe_identity(given)}. Its selection log and checkpoints refer to samples by "
                       f"index, so they would describe the wrong samples: load the data with the settings recorded "
                       f"in {Path(run_dir) / DATA_FILE}, or choose a run folder trained on this data.", recorded, given)
