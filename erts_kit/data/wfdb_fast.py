"""A fast WFDB record reader: the ``.hea`` header parsed here, the signal files read with numpy.

``wfdb.rdrecord`` spends about 5 ms a record on per-record overhead (header field tables,
fsspec, checks), while a 12 x 1000 format-16 record is 24 kB of bytes that numpy reads in
about 0.05 ms. :func:`rdrecord_fast` returns the same physical values as
``wfdb.rdrecord(path, physical=True)`` (the digital-to-physical conversion is done with the same
numpy calls, so the floats are bitwise equal, NaN where the sample holds the format's invalid value)
for the common single-segment records:

* formats 16, 61, 80, 160, 212, 24 and 32 (PTB-XL: 16; MIT-BIH: 212; CinC 2020/2021 ``.mat``: 16
  with a 24-byte offset), one or several signal files, several signals per file, byte offsets;
* header fields: record name, number of signals, sampling rate (a counter frequency after ``/`` is
  ignored), signal length; per signal: file name, format (``x1`` and ``:0`` allowed), byte offset,
  ADC gain (0 or missing means 200, like wfdb), baseline (missing: ADC zero, else 0), units, ADC
  resolution, ADC zero, initial value, checksum, block size, description; ``#`` comment lines.

Anything else raises :class:`FastReadUnsupported` and the caller falls back to ``wfdb.rdrecord``:
multi-segment records, formats 8, 310, 311 and the FLAC formats 508/516/524, more than one
sample per frame, skew, a header without a signal length or sampling rate, ``~`` (no file)
signals, channels of one file with different formats or offsets, and any line this parser does
not understand. A signal file shorter than the header says raises :class:`SignalFileError`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import wfdb

FAST_FORMATS = ("16", "61", "80", "160", "212", "24", "32")
"""WFDB signal formats :func:`rdrecord_fast` reads itself; others go to ``wfdb.rdrecord``."""

_DTYPES = {"16": "<i2", "61": ">i2", "80": "<u1", "160": "<u2", "212": "<u1", "24": "<u1", "32": "<i4"}
_BYTES_PER_SAMPLE = {"16": 2, "61": 2, "80": 1, "160": 2, "24": 3, "32": 4}
_INVALID = {"16": -(2**15), "61": -(2**15), "80": -(2**7), "160": -(2**15), "212": -(2**11), "24": -(2**23),
            "32": -(2**31)}
_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\((?P<baseline>-?\d+)\))?"
                   r"(?:/(?P<units>[\w^\-?%/]*))?$")
_RECORD_NAME = re.compile(r"^[-\w]+$")


class FastReadUnsupported(Exception):
    """The record uses a header feature or format the fast reader leaves to ``wfdb.rdrecord``."""


class SignalFileError(ValueError):
    """A signal file that cannot hold the samples its header announces (missing bytes)."""


@dataclass(slots=True)
class SignalSpec:
    """One signal line of a header."""

    file_name: str
    fmt: str
    byte_offset: int | None
    adc_gain: float
    baseline: int
    units: str
    adc_res: int | None
    adc_zero: int | None
    init_value: int | None
    checksum: int | None
    block_size: int | None
    sig_name: str | None


@dataclass(slots=True)
class Header:
    """The parts of a single-segment WFDB header :func:`rdrecord_fast` needs."""

    record_name: str
    n_sig: int
    fs: float
    sig_len: int
    signals: tuple[SignalSpec, ...]
    comments: tuple[str, ...]


def _opt_int(tokens: list[str], i: int) -> int | None:
    if len(tokens) <= i:
        return None
    tok = tokens[i]
    if not tok.lstrip("-").isdigit():
        raise FastReadUnsupported(f"signal field {tok!r} is not an integer")
    return int(tok)


@lru_cache(maxsize=256)   # a database repeats a handful of format and gain fields
def _parse_format(tok: str) -> tuple[str, int | None]:
    m = _FORMAT.match(tok)
    if m is None:
        raise FastReadUnsupported(f"format field {tok!r}")
    if m["fmt"] not in FAST_FORMATS:
        raise FastReadUnsupported(f"format {m['fmt']}")
    if m["spf"] not in (None, "1") or m["skew"] not in (None, "0"):
        raise FastReadUnsupported("more than one sample per frame, or skew")
    return m["fmt"], int(m["offset"]) if m["offset"] else None


@lru_cache(maxsize=256)
def _parse_gain(tok: str) -> tuple[float, int | None, str]:
    g = _GAIN.match(tok)
    if g is None:
        raise FastReadUnsupported(f"gain field {tok!r}")
    gain = float(g["gain"]) or 200.0   # wfdb: a gain of 0 means 200
    return gain, int(g["baseline"]) if g["baseline"] is not None else None, g["units"] or "mV"


def _parse_signal_line(line: str) -> SignalSpec:
    tokens = line.split(None, 8)
    if len(tokens) < 2 or tokens[0].startswith("~"):
        raise FastReadUnsupported(f"signal line {line!r}")
    fmt, offset = _parse_format(tokens[1])
    gain, baseline, units = _parse_gain(tokens[2]) if len(tokens) > 2 else (200.0, None, "mV")
    adc_zero = _opt_int(tokens, 4)
    if baseline is None:
        baseline = adc_zero if adc_zero is not None else 0
    name = tokens[8] if len(tokens) > 8 else None
    if name is not None and any(c in name for c in "\t\r\f\v"):
        raise FastReadUnsupported("signal description with tabs")
    return SignalSpec(tokens[0], fmt, offset, gain, baseline, units, _opt_int(tokens, 3), adc_zero,
                      _opt_int(tokens, 5), _opt_int(tokens, 6), _opt_int(tokens, 7), name)


def parse_header(text: str) -> Header:
    """Parse the text of a single-segment ``.hea`` file.

    Raises:
        FastReadUnsupported: a header this parser leaves to wfdb (see the module docstring).

    Example:
        >>> h = parse_header("r1 2 360 650000\\n100.dat 212 200 11 1024 995 -22131 0 MLII\\n"
        ...                  "100.dat 212 200 11 1024 1011 20052 0 V5\\n# Age: 69\\n")
        >>> h.fs, h.sig_len, h.signals[1].sig_name, h.signals[0].baseline, h.comments
        (360.0, 650000, 'V5', 1024, ('Age: 69',))
    """
    lines, comments = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            comments.append(line.strip(" \t#"))
        elif line:
            lines.append(line)
    if not lines:
        raise FastReadUnsupported("empty header")
    rec = lines[0].split()
    if len(rec) < 4 or not _RECORD_NAME.match(rec[0]) or not rec[1].isdigit() or not rec[3].isdigit():
        raise FastReadUnsupported(f"record line {lines[0]!r} (multi-segment, or no sampling rate / length)")
    try:
        fs = float(rec[2].split("/")[0])
    except ValueError:
        raise FastReadUnsupported(f"sampling rate {rec[2]!r}") from None
    n_sig = int(rec[1])
    if n_sig < 1 or len(lines) - 1 != n_sig:
        raise FastReadUnsupported(f"{n_sig} signals announced, {len(lines) - 1} signal lines")
    signals = tuple(_parse_signal_line(line) for line in lines[1:])
    return Header(record_name=rec[0], n_sig=n_sig, fs=fs, sig_len=int(rec[3]), signals=signals,
                  comments=tuple(comments))


def _n_bytes(fmt: str, n_samples: int) -> int:
    return (3 * n_samples + 1) // 2 if fmt == "212" else n_samples * _BYTES_PER_SAMPLE[fmt]


def _decode(raw: np.ndarray, fmt: str, n_samples: int) -> np.ndarray:
    """Digital samples (int) of one file's bytes/words, in file order."""
    if fmt == "212":   # two 12-bit samples in three bytes
        b = raw.astype(np.int16)
        if b.size % 3:
            b = np.concatenate([b, np.zeros(3 - b.size % 3, np.int16)])
        out = np.empty(b.size // 3 * 2, np.int16)
        out[0::2] = b[0::3] + ((b[1::3] & 0x0F) << 8)
        out[1::2] = b[2::3] + ((b[1::3] >> 4) << 8)
        out = out[:n_samples]
        out[out > 2047] -= 4096
        return out
    if fmt == "24":    # little-endian 3-byte two's complement
        b = raw.reshape(-1, 3)
        return (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                | (b[:, 2].view(np.int8).astype(np.int32) << 16))
    if fmt == "80":
        return raw.astype(np.int16) - 128
    if fmt == "160":
        return raw.astype(np.int32) - 32768
    return raw


def read_digital(header: Header, folder: str | Path) -> np.ndarray:
    """The (sig_len, n_sig) digital samples of a parsed header's signal files in ``folder``.

    Raises:
        FileNotFoundError: a signal file is missing.
        SignalFileError: a signal file is shorter than the header says.
        FastReadUnsupported: channels of one file with different formats or byte offsets.
    """
    by_file: dict[str, list[int]] = {}
    for ch, s in enumerate(header.signals):
        by_file.setdefault(s.file_name, []).append(ch)
    n = header.sig_len
    out = None if len(by_file) == 1 else np.empty((n, header.n_sig), np.int64)
    for file_name, chans in by_file.items():
        specs = {(header.signals[c].fmt, header.signals[c].byte_offset or 0) for c in chans}
        if len(specs) != 1:
            raise FastReadUnsupported(f"channels of {file_name} with different formats or byte offsets")
        fmt, offset = specs.pop()
        path = os.path.join(folder, file_name)
        n_samples = n * len(chans)
        need = _n_bytes(fmt, n_samples)
        size = os.path.getsize(path)   # FileNotFoundError names the file
        if size < offset + need:
            raise SignalFileError(f"signal file {file_name} is truncated: {size} bytes, the header needs "
                                  f"{offset + need} ({n} samples x {len(chans)} signal(s) in format {fmt}"
                                  f"{f' after a {offset}-byte offset' if offset else ''})")
        dtype = np.dtype(_DTYPES[fmt])
        raw = np.fromfile(path, dtype=dtype, count=need // dtype.itemsize, offset=offset)
        dig = _decode(raw, fmt, n_samples).reshape(n, len(chans))
        if out is None:   # one file holds every signal, in header order
            return dig
        out[:, chans] = dig
    return out


def rdrecord_fast(path: str | Path, return_res: int = 64) -> wfdb.Record:
    """Read a record like ``wfdb.rdrecord(path, physical=True, return_res=return_res)``, faster.

    The returned ``wfdb.Record`` has ``p_signal`` (sig_len, n_sig) float64 (float32 with
    ``return_res=32``), ``record_name, n_sig, fs, sig_len, file_name, fmt, samps_per_frame,
    byte_offset, adc_gain, baseline, units, adc_res, adc_zero, init_value, checksum, block_size,
    sig_name, comments``.

    Raises:
        FastReadUnsupported: a header or format left to ``wfdb.rdrecord`` (see the module docstring).
        FileNotFoundError: the header or a signal file is missing.
        SignalFileError: a signal file shorter than the header says.

    Example:
        >>> import tempfile, warnings
        >>> d = tempfile.mkdtemp()
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     wfdb.wrsamp("r1", fs=360, units=["mV"] * 2, sig_name=["MLII", "V5"], fmt=["212"] * 2,
        ...                 p_signal=np.array([[0.5, -1.0], [0.25, 2.0], [0.0, 0.125]]), write_dir=d)
        >>> fast, ref = rdrecord_fast(f"{d}/r1"), wfdb.rdrecord(f"{d}/r1")
        >>> np.array_equal(fast.p_signal, ref.p_signal), fast.sig_name, fast.fs
        (True, ['MLII', 'V5'], 360.0)
    """
    if return_res not in (64, 32):
        raise FastReadUnsupported(f"return_res={return_res}")
    path = Path(path)
    with open(path.with_name(path.name + ".hea"), encoding="ascii", errors="ignore") as f:
        header = parse_header(f.read())
    dig = read_digital(header, path.parent)
    sigs = header.signals
    fmts = {s.fmt for s in sigs}
    nan_at = dig == (_INVALID[sigs[0].fmt] if len(fmts) == 1 else np.array([_INVALID[s.fmt] for s in sigs]))
    # the very calls of wfdb's Record.dac, so the floats are bitwise equal
    p = dig.astype("float64" if return_res == 64 else "float32")
    np.subtract(p, [s.baseline for s in sigs], p)
    np.divide(p, [s.adc_gain for s in sigs], p)
    if nan_at.any():
        p[nan_at] = np.nan
    return wfdb.Record(
        p_signal=p, record_name=header.record_name, n_sig=header.n_sig, fs=header.fs, sig_len=header.sig_len,
        file_name=[s.file_name for s in sigs], fmt=[s.fmt for s in sigs], samps_per_frame=[1] * header.n_sig,
        byte_offset=[s.byte_offset for s in sigs], adc_gain=[s.adc_gain for s in sigs],
        baseline=[s.baseline for s in sigs], units=[s.units for s in sigs], adc_res=[s.adc_res for s in sigs],
        adc_zero=[s.adc_zero for s in sigs], init_value=[s.init_value for s in sigs],
        checksum=[s.checksum for s in sigs], block_size=[s.block_size for s in sigs],
        sig_name=[s.sig_name for s in sigs], comments=list(header.comments))
