"""An on-disk cache of :class:`ECGData`: read a database once, memory-map it afterwards.

Layout of one cache (a folder named by the hash of the reader's settings, the *key*)::

    <cache_dir>/<sha256(key)[:20]>/
        signals.npy        float32 (N, leads, T), opened with np.load(mmap_mode="r")
        labels.npy         int64 (N,) or float32 (N, C)
        meta.json          pandas "table" JSON (keeps dtypes), one row per sample
        splits.npz         one int64 array per split
        evidence_mask.npy  bool (N, T), only when the data has one
        manifest.json      format version, the full key, shapes, file sizes, names, fs  (written LAST)

Guarantees:

* Every file is written to a temporary file in the same folder, flushed, fsync'ed and moved in
  place with ``os.replace``; the manifest is removed before a rebuild and written last, so a
  cache whose writing was interrupted has no manifest and is never loaded as valid.
* A cache is reused only when its manifest holds the same format version and the same key,
  compared in full (not only by hash).
* A corrupt cache (missing or short file, unreadable manifest, wrong shapes) is reported with a
  warning and rebuilt.
* Nothing is pickled: arrays are read with ``allow_pickle=False``, everything else is JSON.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write, fsync_dir
from .dataset import ECGData

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class CacheInvalid(Exception):
    """A cache folder that must not be used (internal; :func:`cached` rebuilds on it)."""

    def __init__(self, reason: str, corrupt: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt  # False: a valid cache of other settings (hash collision / old format)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"Expected cache key values that are JSON-serialisable (str, number, bool, None, list, dict, "
                    f"Path), got {obj!r} ({type(obj).__name__}): convert it to one of those.")


def canonical_key(key: dict[str, Any]) -> str:
    """The key as canonical JSON (sorted keys, no spaces): what is hashed and compared.

    Example:
        >>> canonical_key({"fs": 100, "dataset": "ptbxl"})
        '{"dataset":"ptbxl","fs":100}'
    """
    if not isinstance(key, dict):
        raise TypeError(f"Expected the cache key to be a dict of settings, got {type(key).__name__}.")
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_json_default)


def cache_folder(cache_dir: str | Path, key: dict[str, Any]) -> Path:
    """Folder that holds the cache for ``key``: ``cache_dir / sha256(format version + key)[:20]``.

    Example:
        >>> cache_folder("/tmp/c", {"a": 1}) == cache_folder("/tmp/c", {"a": 1})
        True
        >>> cache_folder("/tmp/c", {"a": 1}) == cache_folder("/tmp/c", {"a": 2})
        False
    """
    digest = hashlib.sha256(f"v{FORMAT_VERSION}:{canonical_key(key)}".encode()).hexdigest()
    return Path(cache_dir) / digest[:20]


def save_cache(data: ECGData, folder: str | Path, key: dict[str, Any]) -> Path:
    """Write ``data`` as a cache in ``folder`` (atomically, manifest last) and return the folder.

    Signals are stored as float32 whatever their dtype. ``data.meta.attrs`` must be
    JSON-serialisable (it is kept in the manifest).

    Example:
        >>> import tempfile
        >>> d = ECGData(np.ones((2, 1, 4)), [0, 1], ["a", "b"], fs=100)
        >>> (save_cache(d, tempfile.mkdtemp(), {"demo": 1}) / "manifest.json").is_file()
        True
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    if manifest_path.exists():  # invalidate first: a crash mid-rebuild must not leave a valid-looking cache
        os.remove(manifest_path)
        fsync_dir(folder)

    signals = np.asarray(data.signals)
    if signals.dtype != np.float32:
        signals = signals.astype(np.float32)
    labels = np.asarray(data.labels)
    meta = data.meta.reset_index(drop=True)
    meta_attrs = json.loads(json.dumps(dict(data.meta.attrs), default=_json_default))

    atomic_write(folder / "signals.npy", lambda f: np.save(f, signals, allow_pickle=False))
    atomic_write(folder / "labels.npy", lambda f: np.save(f, labels, allow_pickle=False))
    meta_json = meta.to_json(orient="table", index=False) if len(meta.columns) else ""
    atomic_write(folder / "meta.json", lambda f: f.write(meta_json.encode()))
    splits = {k: np.asarray(v, dtype=np.int64) for k, v in data.splits.items()}
    atomic_write(folder / "splits.npz", lambda f: np.savez(f, **splits))
    files = ["signals.npy", "labels.npy", "meta.json", "splits.npz"]
    if data.evidence_mask is not None:
        mask = np.asarray(data.evidence_mask, dtype=bool)
        atomic_write(folder / "evidence_mask.npy", lambda f: np.save(f, mask, allow_pickle=False))
        files.append("evidence_mask.npy")

    manifest = {
        "format_version": FORMAT_VERSION,
        "key": json.loads(canonical_key(key)),
        "name": data.name, "fs": float(data.fs),
        "class_names": list(data.class_names), "lead_names": list(data.lead_names or []),
        "n_samples": int(signals.shape[0]),
        "signals_shape": list(signals.shape), "labels_shape": list(labels.shape),
        "labels_dtype": str(labels.dtype), "splits": sorted(splits),
        "files": {name: os.path.getsize(folder / name) for name in files},
        "meta_attrs": meta_attrs,
    }
    atomic_write(manifest_path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
    fsync_dir(folder)
    return folder


def load_cache(folder: str | Path, key: dict[str, Any]) -> ECGData:
    """Open a cache written by :func:`save_cache`; signals come back memory-mapped (read-only).

    Raises:
        CacheInvalid: no/unreadable manifest, other format version or key, missing or short
            files, shapes that disagree with the manifest.

    Example:
        >>> import tempfile
        >>> d = ECGData(np.ones((2, 1, 4)), [0, 1], ["a", "b"], fs=100, splits={"train": [1]})
        >>> folder = save_cache(d, tempfile.mkdtemp(), {"demo": 1})
        >>> back = load_cache(folder, {"demo": 1})
        >>> type(back.signals).__name__, back.signals.dtype, back.split("train").tolist()
        ('memmap', dtype('float32'), [1])
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise CacheInvalid("no manifest.json (an earlier write was interrupted)")
    try:
        manifest = json.loads(manifest_path.read_text())
        version, stored_key = manifest["format_version"], manifest["key"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CacheInvalid(f"unreadable manifest.json ({type(exc).__name__}: {exc})") from None
    if version != FORMAT_VERSION:
        raise CacheInvalid(f"format version {version}, this erts_kit writes {FORMAT_VERSION}", corrupt=False)
    if stored_key != json.loads(canonical_key(key)):
        raise CacheInvalid("it was built with other settings", corrupt=False)
    try:
        for name, size in manifest["files"].items():
            path = folder / name
            if not path.is_file():
                raise CacheInvalid(f"{name} is missing")
            if path.stat().st_size != size:
                raise CacheInvalid(f"{name} has {path.stat().st_size} bytes, the manifest says {size}")
        signals = np.load(folder / "signals.npy", mmap_mode="r", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        if list(signals.shape) != manifest["signals_shape"] or signals.dtype != np.float32:
            raise CacheInvalid(f"signals.npy holds {signals.dtype} {signals.shape}, "
                               f"expected float32 {tuple(manifest['signals_shape'])}")
        if list(labels.shape) != manifest["labels_shape"]:
            raise CacheInvalid(f"labels.npy has shape {labels.shape}, expected {tuple(manifest['labels_shape'])}")
        with np.load(folder / "splits.npz", allow_pickle=False) as npz:
            splits = {k: npz[k] for k in npz.files}
        text = (folder / "meta.json").read_text()
        n = manifest["n_samples"]
        meta = pd.read_json(io.StringIO(text), orient="table") if text else pd.DataFrame(index=pd.RangeIndex(n))
        meta.attrs.update(manifest.get("meta_attrs", {}))
        mask = None
        if "evidence_mask.npy" in manifest["files"]:
            mask = np.load(folder / "evidence_mask.npy", allow_pickle=False)
        return ECGData(signals=signals, labels=labels, class_names=manifest["class_names"], fs=manifest["fs"],
                       lead_names=manifest["lead_names"] or None, meta=meta, splits=splits,
                       evidence_mask=mask, name=manifest["name"])
    except CacheInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated .npy, bad JSON, inconsistent shapes, ...
        raise CacheInvalid(f"{type(exc).__name__}: {exc}") from None


def cached(builder: Callable[[], ECGData], cache_dir: str | Path, key: dict[str, Any]) -> ECGData:
    """Return the cached ECGData for ``key``, building (``builder()``) and saving it on a miss.

    Args:
        builder: reads the database; called only when no valid cache with this key exists.
        cache_dir: folder holding caches (one sub-folder per key).
        key: every setting that changes the result (reader name, root, fs, labels, ...);
            JSON-serialisable. A cache is reused only for an identical key.

    Returns:
        The data with signals memory-mapped read-only from ``signals.npy`` (also right after a
        build, so the first and later calls return the same thing).

    Warns:
        UserWarning when a corrupt or interrupted cache is found and rebuilt.

    Example:
        >>> import tempfile
        >>> calls = []
        >>> def build():
        ...     calls.append(1)
        ...     return ECGData(np.zeros((3, 2, 8)), [0, 1, 0], ["a", "b"], fs=100)
        >>> cdir = tempfile.mkdtemp()
        >>> a = cached(build, cdir, {"demo": 1}); b = cached(build, cdir, {"demo": 1})
        >>> len(calls), b.signals.shape
        (1, (3, 2, 8))
        >>> _ = cached(build, cdir, {"demo": 2}); len(calls)
        2
    """
    folder = cache_folder(cache_dir, key)
    if folder.exists():
        try:
            return load_cache(folder, key)
        except CacheInvalid as exc:
            what = "is corrupt" if exc.corrupt else "cannot be reused"
            warnings.warn(f"Cache at {folder} {what} ({exc.reason}); rebuilding it.", stacklevel=2)
    data = builder()
    if not isinstance(data, ECGData):
        raise TypeError(f"Expected the cache builder to return ECGData, got {type(data).__name__}.")
    save_cache(data, folder, key)
    return load_cache(folder, key)
