"""Reading WFDB records with clear errors: one place for every real-database reader.

Every reader (PTB-XL, CinC 2020, MIT-BIH) reads records through :func:`read_record` /
:func:`read_annotation`, so a corrupt or missing file always gives the same kind of error,
a :class:`RecordReadError` naming the record and the reason, or, with ``on_error="skip"``, an
entry in a :class:`SkipReport` that the reader stores on its result (``data.meta.attrs['skipped']``,
a list of ``{"record": ..., "reason": ...}`` dicts) and reports once as a warning.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import wfdb

from .._validation import check_choice, format_list
from .normalize import flat_leads, zscore_per_lead
from .wfdb_fast import FastReadUnsupported, SignalFileError, rdrecord_fast

ON_ERROR_CHOICES = ("raise", "skip")
REDOWNLOAD = "Re-download the database"
_ENGINE = ["fast"]   # a stack: record_engine() pushes and pops


class RecordReadError(ValueError):
    """A record that cannot be used: unreadable, truncated, wrong shape, NaN, ...

    Attributes:
        record: the record path or id, as the reader names it.
        reason: why it cannot be used.
        advice: how to fix it, for this cause (default: re-download, for damaged files; a reader
            passes other advice, e.g. ``fs=`` for a record at another sampling rate).

    Example:
        >>> err = RecordReadError("records100/00000/00001_lr", "file is truncated")
        >>> err.record, str(err).startswith("Cannot use record")
        ('records100/00000/00001_lr', True)
    """

    def __init__(self, record: str, reason: str, advice: str = REDOWNLOAD) -> None:
        self.record = str(record)
        self.reason = str(reason)
        self.advice = str(advice)
        super().__init__(f"Cannot use record {self.record!r}: {self.reason}. {self.advice}"
                         f"{', or pass' if self.advice else 'Pass'} on_error='skip' to leave such records out "
                         "(they are listed in data.meta.attrs['skipped']).")

    def __reduce__(self):  # keep pickling (multiprocessing) working with the three-argument init
        return (type(self), (self.record, self.reason, self.advice))


@dataclass
class SkipReport:
    """The records a reader left out with ``on_error="skip"``, and why.

    Example:
        >>> rep = SkipReport()
        >>> rep.add("A0002", "NaN values in leads 0, 3")
        >>> len(rep), rep.as_records()
        (1, [{'record': 'A0002', 'reason': 'NaN values in leads 0, 3'}])
    """

    entries: list[tuple[str, str]] = field(default_factory=list)

    def add(self, record: str, reason: str) -> None:
        self.entries.append((str(record), str(reason)))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def records(self) -> list[str]:
        return [r for r, _ in self.entries]

    def as_records(self) -> list[dict[str, str]]:
        """JSON-friendly list of ``{"record", "reason"}`` dicts (what ``meta.attrs['skipped']`` holds)."""
        return [{"record": r, "reason": why} for r, why in self.entries]

    def to_frame(self) -> pd.DataFrame:
        """The report as a DataFrame with columns ``record``, ``reason``."""
        return pd.DataFrame(self.entries, columns=["record", "reason"])

    def warn(self, dataset: str, stacklevel: int = 3) -> None:
        """Emit one warning listing the skipped records (nothing when none were skipped)."""
        if self.entries:
            warnings.warn(f"{dataset}: skipped {len(self)} record(s) with on_error='skip': "
                          f"{format_list([f'{r} ({why})' for r, why in self.entries], limit=5)}. "
                          "Full list in data.meta.attrs['skipped'].", stacklevel=stacklevel)


def handle_error(err: RecordReadError, on_error: str, skipped: SkipReport | None) -> None:
    """Raise ``err`` (``on_error="raise"``) or record it in ``skipped`` (``"skip"``).

    Example:
        >>> rep = SkipReport()
        >>> handle_error(RecordReadError("r1", "bad"), "skip", rep)
        >>> rep.records
        ['r1']
    """
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    if on_error == "raise":
        raise err
    if skipped is None:
        raise TypeError("on_error='skip' needs a SkipReport to record the skipped record in.")
    skipped.add(err.record, err.reason)


def read_record(path: str | Path, on_error: str = "raise", skipped: SkipReport | None = None,
                name: str | None = None, **rdrecord_kw: Any) -> wfdb.Record | None:
    """Read a WFDB record (physical units, ``p_signal`` (T, leads) float64) with clear errors.

    Records in the common formats (16, 212, 24, 32, 80, ... see :mod:`~erts_kit.data.wfdb_fast`) are
    read by :func:`~erts_kit.data.wfdb_fast.rdrecord_fast` (same values as ``wfdb.rdrecord``, about
    100x less overhead a record); other formats or header features, and any ``rdrecord_kw`` but
    ``return_res``, go to ``wfdb.rdrecord``. :func:`record_engine` switches the fast reader off.

    Args:
        path: record path without extension (the ``.hea`` and its signal files must sit next to it).
        on_error: ``"raise"`` raises :class:`RecordReadError`; ``"skip"`` records the failure in
            ``skipped`` and returns None.
        skipped: where skipped records go (required with ``on_error="skip"``).
        name: how to name the record in messages (default: ``path``).
        **rdrecord_kw: passed to ``wfdb.rdrecord`` (e.g. ``channels``, ``sampto``; ``return_res`` also
            to the fast reader).

    Returns:
        The ``wfdb.Record``, or None when skipped.

    Raises:
        RecordReadError: missing/unreadable/truncated files, or a record without signals.

    Example:
        >>> import tempfile, numpy as np
        >>> d = tempfile.mkdtemp()
        >>> wfdb.wrsamp("r1", fs=100, units=["mV"], sig_name=["I"], p_signal=np.zeros((10, 1)),
        ...             fmt=["16"], write_dir=d)
        >>> read_record(f"{d}/r1").p_signal.shape
        (10, 1)
        >>> rep = SkipReport()
        >>> read_record(f"{d}/missing", on_error="skip", skipped=rep) is None, rep.records[0].endswith("missing")
        (True, True)
    """
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    path = Path(path)
    label = name or str(path)
    if not path.with_name(path.name + ".hea").is_file():
        handle_error(RecordReadError(label, f"header file {path}.hea not found"), on_error, skipped)
        return None
    rec: wfdb.Record | None = None
    try:
        if _ENGINE[-1] == "fast" and set(rdrecord_kw) <= {"return_res"}:
            try:
                rec = rdrecord_fast(path, **rdrecord_kw)
            except FastReadUnsupported:
                rec = None   # a format or header feature the fast reader leaves to wfdb
        if rec is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # wfdb warns on odd header fields; we check what we use
                rec = wfdb.rdrecord(str(path), physical=True, **rdrecord_kw)
    except FileNotFoundError as exc:
        err = RecordReadError(label, f"signal file missing ({exc.filename or exc})")
    except SignalFileError as exc:
        err = RecordReadError(label, str(exc))
    except Exception as exc:  # noqa: BLE001 - wfdb raises many types on corrupt files (ValueError, IndexError, ...)
        err = RecordReadError(label, f"unreadable ({type(exc).__name__}: {exc})")
    else:
        if rec.p_signal is None or rec.p_signal.size == 0:
            err = RecordReadError(label, "record holds no signal samples")
        elif not (isinstance(rec.fs, (int, float, np.number)) and np.isfinite(rec.fs) and rec.fs > 0):
            err = RecordReadError(label, f"unusable sampling rate {rec.fs!r} Hz in the header")
        else:
            return rec
    handle_error(err, on_error, skipped)
    return None


@contextmanager
def record_engine(engine: str) -> Iterator[None]:
    """Read records with ``"fast"`` (:mod:`~erts_kit.data.wfdb_fast`, the default) or ``"wfdb"`` (``wfdb.rdrecord``).

    Both give the same values; ``"wfdb"`` is there to compare (``benchmarks/bench_cache.py``).

    Example:
        >>> with record_engine("wfdb"):
        ...     _ENGINE[-1]
        'wfdb'
        >>> _ENGINE[-1]
        'fast'
    """
    check_choice("engine", engine, ("fast", "wfdb"))
    _ENGINE.append(engine)
    try:
        yield
    finally:
        _ENGINE.pop()


def read_annotation(path: str | Path, extension: str = "atr", on_error: str = "raise",
                    skipped: SkipReport | None = None, name: str | None = None,
                    **rdann_kw: Any) -> wfdb.Annotation | None:
    """Read a WFDB annotation file with the same error handling as :func:`read_record`.

    Example:
        >>> import tempfile, numpy as np
        >>> d = tempfile.mkdtemp()
        >>> wfdb.wrann("r1", "atr", np.array([5, 9]), symbol=["N", "V"], write_dir=d)
        >>> read_annotation(f"{d}/r1").symbol
        ['N', 'V']
    """
    check_choice("on_error", on_error, ON_ERROR_CHOICES)
    path = Path(path)
    label = name or str(path)
    if not path.with_name(f"{path.name}.{extension}").is_file():
        err = RecordReadError(label, f"annotation file {path}.{extension} not found")
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return wfdb.rdann(str(path), extension, **rdann_kw)
        except Exception as exc:  # noqa: BLE001 - any failure is reported with the record's name
            err = RecordReadError(label, f"annotation file unreadable ({type(exc).__name__}: {exc})")
    handle_error(err, on_error, skipped)
    return None


def check_finite(signal: np.ndarray, record: str) -> None:
    """Raise :class:`RecordReadError` when a (leads, T) or (T, leads) signal holds NaN/inf.

    Example:
        >>> check_finite(np.zeros((2, 5)), "r1")
    """
    bad = ~np.isfinite(signal)
    if bad.any():
        raise RecordReadError(record, f"{int(bad.sum())} NaN/inf sample value(s) "
                                      "(missing or invalid samples in the signal file)")

# --- shared by the readers: collecting records, NaN / flat-lead checks, reports -------------------

class SignalStack:
    """Fills a preallocated float32 (N_max, leads, T) array record by record (no list of copies).

    Example:
        >>> s = SignalStack(3)
        >>> s.append(np.ones((2, 4))); s.append(np.zeros((2, 4)))
        >>> s.array().shape
        (2, 2, 4)
    """

    def __init__(self, n_max: int) -> None:
        self.n_max = n_max
        self.n = 0
        self._buf: np.ndarray | None = None

    def append(self, x: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty((self.n_max, *x.shape), dtype=np.float32)
        self._buf[self.n] = x
        self.n += 1

    def array(self, shape_if_empty: tuple[int, int] = (12, 1)) -> np.ndarray:
        if self._buf is None:
            return np.zeros((0, *shape_if_empty), dtype=np.float32)
        return self._buf if self.n == self.n_max else self._buf[: self.n].copy()


def prepare_signal(sig: np.ndarray, record: str, normalize: bool) -> tuple[np.ndarray, int]:
    """Check a (leads, T) record for NaN and all-flat leads, z-score it if asked.

    Returns:
        (float32 signal, number of flat leads).

    Raises:
        RecordReadError: NaN/inf samples, or every lead flat.

    Example:
        >>> x, n_flat = prepare_signal(np.array([[0.0, 1.0, 2.0], [3.0, 3.0, 3.0]]), "r1", True)
        >>> n_flat, x[1].tolist()
        (1, [0.0, 0.0, 0.0])
    """
    bad = ~np.isfinite(sig)
    if bad.any():
        leads = sorted(set(np.nonzero(bad)[0].tolist()))
        raise RecordReadError(record, f"{int(bad.sum())} NaN/inf sample value(s) in lead(s) {format_list(leads)}",
                              advice="")   # the data, not the file: a download gives the same
    if normalize:   # z-scoring sets exactly the flat leads to zeros: one std pass, not two
        out = zscore_per_lead(sig)
        flat = ~out.any(axis=-1)
    else:
        out, flat = sig.astype(np.float32), flat_leads(sig)
    if flat.all():
        raise RecordReadError(record, "every lead is flat (no signal)", advice="")
    return out, int(flat.sum())


def warn_flat(dataset: str, records: list[str]) -> None:
    """One warning listing records that have some flat leads (those leads are zeros after z-scoring)."""
    if records:
        warnings.warn(f"{dataset}: {len(records)} record(s) have flat lead(s) (set to zeros by z-scoring; "
                      f"count per record in meta['flat_leads']): {format_list(records)}.", stacklevel=3)


def file_stamp(path: Path) -> list[int]:
    """(size, mtime_ns) of a file, to put in a cache key so an edited database rebuilds the cache."""
    st = os.stat(path)
    return [int(st.st_size), int(st.st_mtime_ns)]


def load_cached_records(dataset: str, build: Callable[[], Any], cache_dir: Any, key: dict[str, Any]) -> Any:
    """``cached(build, cache_dir, key)`` for a record reader: on a cache hit, repeat the skip warning.

    A reader with ``on_error="skip"`` warns about the records it left out while it builds; a later load
    from the cache does not rebuild, so the warning is given again from the stored skip list.
    """
    from .cache import cached

    built: list[bool] = []

    def tracked_build() -> Any:
        built.append(True)
        return build()

    data = cached(tracked_build, cache_dir, key)
    if not built:
        warn_cached_skips(dataset, data.meta.attrs)
    return data


def warn_cached_skips(dataset: str, attrs: dict[str, Any]) -> None:
    """On a cache hit, repeat (once) that records were skipped when the cache was built."""
    skipped = attrs.get("skipped") or []
    if skipped:
        warnings.warn(f"{dataset}: this cache was built with on_error='skip' and leaves out {len(skipped)} "
                      f"record(s): {format_list([s['record'] for s in skipped], limit=5)}. "
                      "Full list in data.meta.attrs['skipped'].", stacklevel=3)
