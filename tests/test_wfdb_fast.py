"""The fast WFDB reader gives wfdb.rdrecord's values, on every format the kit's readers meet, and falls back."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import wfdb
from fixtures_wfdb import make_ptbxl_tree, truncate_signal_file, write_cinc_record

from erts_kit.data._wfdb_io import RecordReadError, read_record, record_engine
from erts_kit.data.ptbxl import load_ptbxl
from erts_kit.data.wfdb_fast import FastReadUnsupported, parse_header, rdrecord_fast

FIELDS = ("record_name", "n_sig", "fs", "sig_len", "file_name", "fmt", "byte_offset", "adc_gain", "baseline",
          "units", "adc_res", "adc_zero", "init_value", "checksum", "block_size", "sig_name", "comments")


def _wrsamp(folder, name, signal, fmt, fs=257.0, **kw):
    n = signal.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wfdb.wrsamp(name, fs=fs, units=["mV"] * n, sig_name=[f"L {i}" for i in range(n)], p_signal=signal,
                    fmt=[fmt] * n, write_dir=str(folder), comments=["Dx: 426783006", "  Age: 61"], **kw)
    return folder / name


def _assert_same(path, return_res=64):
    ref = wfdb.rdrecord(str(path), return_res=return_res)
    fast = rdrecord_fast(path, return_res=return_res)
    assert fast.p_signal.dtype == ref.p_signal.dtype and fast.p_signal.shape == ref.p_signal.shape
    np.testing.assert_array_equal(fast.p_signal, ref.p_signal)   # bitwise, NaN where wfdb has NaN
    for f in FIELDS:
        assert getattr(fast, f) == getattr(ref, f), f
    return fast


def _signal(rng, n, n_sig=3):
    sig = rng.normal(0, 1.5, (n, n_sig))
    sig[7, 1] = np.nan                      # an invalid sample: the format's "no value" code
    return sig


@pytest.mark.parametrize("fmt", ["16", "212", "80", "24", "32"])
@pytest.mark.parametrize("n", [1000, 1001])   # 212: an odd sample count ends in half a byte triplet
@pytest.mark.parametrize("return_res", [64, 32])
def test_formats_wfdb_writes(tmp_path, fmt, n, return_res):
    path = _wrsamp(tmp_path, f"r{fmt}", _signal(np.random.default_rng(int(fmt) + n), n), fmt)
    fast = _assert_same(path, return_res)
    assert np.isnan(fast.p_signal[7, 1]) and np.isfinite(np.delete(fast.p_signal.ravel(), 7 * 3 + 1)).all()


def _digital(rng, n=500, n_sig=2):
    d = rng.integers(-30000, 30000, size=(n, n_sig)).astype(np.int16)
    d[3, 0] = -32768                        # invalid sample
    return d


def _header(name, file_name, fmt, d, gains=(200.0, 1000.0), baselines=(5, -3), fs="360/360(0)"):
    lines = [f"{name} {d.shape[1]} {fs} {d.shape[0]}"]
    for i in range(d.shape[1]):
        lines.append(f"{file_name} {fmt} {gains[i]:g}({baselines[i]})/mV 16 0 {int(d[0, i])} 0 0 lead {i}")
    return "\n".join(lines + ["# Dx: 1", ""])


@pytest.mark.parametrize("fmt", ["61", "160"])
def test_formats_written_by_hand(tmp_path, fmt):
    """wfdb cannot write 61 (big-endian) or 160 (offset binary); both read formats, so compare reads."""
    d = _digital(np.random.default_rng(0))
    raw = d.astype(">i2") if fmt == "61" else (d.astype(np.int32) + 32768).astype("<u2")
    raw.tofile(tmp_path / "h.dat")
    (tmp_path / "h.hea").write_text(_header("h", "h.dat", fmt, d))
    fast = _assert_same(tmp_path / "h")
    assert np.isnan(fast.p_signal[3, 0])
    np.testing.assert_array_equal(fast.p_signal[1:3, 1], (d[1:3, 1] + 3) / 1000.0)


def test_two_files_byte_offset_and_gains(tmp_path):
    """Signals spread over two files, with a header offset in one, and baselines in the gain field."""
    rng = np.random.default_rng(1)
    a, b = _digital(rng, n_sig=2), _digital(rng, n_sig=1)
    with open(tmp_path / "m_a.dat", "wb") as f:
        f.write(b"\x07" * 24)
        a.astype("<i2").tofile(f)
    b.astype("<i2").tofile(tmp_path / "m_b.dat")
    lines = ["m 3 500 500", "m_a.dat 16+24 200(5)/mV 16 0 0 0 0 I", "m_a.dat 16+24 0/mV 16 0 0 0 0 II",
             "m_b.dat 16 100.5(-7)/uV 16 0 0 0 0 III"]   # gain 0 means 200
    (tmp_path / "m.hea").write_text("\n".join(lines) + "\n")
    fast = _assert_same(tmp_path / "m")
    np.testing.assert_array_equal(fast.p_signal[5:, 2], (b[5:, 0] + 7) / 100.5)
    np.testing.assert_array_equal(fast.p_signal[5:, 1], a[5:, 1] / 200.0)
    assert fast.sig_name == ["I", "II", "III"] and fast.units == ["mV", "mV", "uV"]


def test_cinc_mat_and_ptbxl_records(tmp_path):
    val = np.random.default_rng(2).integers(-2000, 2000, size=(12, 700)).astype(np.int16)
    _assert_same(write_cinc_record(tmp_path / "cinc", "A0001", val, 500, "426783006"))
    root = make_ptbxl_tree(tmp_path / "ptbxl", [{"NORM": 100.0}], rates=(100, 500))
    _assert_same(root / "records100/00000/00001_lr")
    _assert_same(root / "records500/00000/00001_hr")


def test_parse_header_defaults_like_wfdb():
    h = parse_header("r 2 128\t1000\n\n# Age: 5\nr.dat 212 0 12 1024 0 0 0\nr.dat 212\n")
    s0, s1 = h.signals
    assert (h.fs, h.sig_len, h.comments) == (128.0, 1000, ("Age: 5",))
    assert (s0.adc_gain, s0.baseline, s0.adc_zero, s0.sig_name) == (200.0, 1024, 1024, None)
    assert (s1.adc_gain, s1.baseline, s1.units, s1.adc_zero) == (200.0, 0, "mV", None)


@pytest.mark.parametrize("text, why", [
    ("r/2 2 360 1000\nr_1 500\nr_2 500\n", "record line"),       # multi-segment
    ("r 1 360\nr.dat 16 200 16 0 0 0 0 I\n", "record line"),       # no signal length
    ("r 1 360 10\nr.dat 8 200 16 0 0 0 0 I\n", "format 8"),
    ("r 1 360 10\nr.dat 311 200 16 0 0 0 0 I\n", "format 311"),
    ("r 1 360 10\nr.dat 516 200 16 0 0 0 0 I\n", "format 516"),   # FLAC
    ("r 1 360 10\nr.dat 16x2 200 16 0 0 0 0 I\n", "sample per frame"),
    ("r 1 360 10\nr.dat 16:3 200 16 0 0 0 0 I\n", "skew"),
    ("r 2 360 10\nr.dat 16 200 16 0 0 0 0 I\n", "2 signals announced"),
])
def test_unsupported_headers_are_left_to_wfdb(text, why):
    with pytest.raises(FastReadUnsupported, match=why):
        parse_header(text)


def test_read_record_falls_back_to_wfdb(tmp_path):
    """Two samples per frame: the fast reader declines, read_record returns exactly wfdb's record."""
    d = np.random.default_rng(3).integers(-1000, 1000, size=(200, 3)).astype("<i2")   # frames of (s0, s0, s1)
    d.tofile(tmp_path / "f.dat")
    (tmp_path / "f.hea").write_text("f 2 250 100\nf.dat 16x2 200 16 0 0 0 0 A\nf.dat 16 200 16 0 0 0 0 B\n")
    with pytest.raises(FastReadUnsupported):
        rdrecord_fast(tmp_path / "f")
    rec = read_record(tmp_path / "f")
    np.testing.assert_array_equal(rec.p_signal, wfdb.rdrecord(str(tmp_path / "f")).p_signal)


def test_truncated_and_missing_files_name_the_cause(tmp_path):
    path = _wrsamp(tmp_path, "t", np.zeros((100, 2)), "16")
    truncate_signal_file(path, keep_bytes=300)
    with pytest.raises(RecordReadError, match=r"'t': signal file t.dat is truncated: 300 bytes, the header "
                                              r"needs 400 \(100 samples x 2 signal\(s\) in format 16\)"):
        read_record(path, name="t")
    (tmp_path / "t.dat").unlink()
    with pytest.raises(RecordReadError, match="signal file missing"):
        read_record(path)


def test_load_ptbxl_same_with_either_engine(tmp_path):
    root = make_ptbxl_tree(tmp_path, [{"NORM": 100.0}, {"IMI": 80.0}, {"LVH": 50.0}], n_leads=12)
    fast = load_ptbxl(root, progress=False)
    with record_engine("wfdb"):
        slow = load_ptbxl(root, progress=False)
    np.testing.assert_array_equal(fast.signals, slow.signals)
    assert fast.meta.equals(slow.meta) and fast.lead_names == slow.lead_names


def test_real_cinc_records_equal_wfdb(cinc_dir):
    for hea in sorted(cinc_dir.rglob("*.hea")):
        _assert_same(hea.with_suffix(""))


def test_real_mitdb_records_equal_wfdb(mitdb_dir):
    for hea in sorted(mitdb_dir.glob("*.hea"))[:4]:   # 30 min of 2 x 360 Hz format 212 each
        _assert_same(hea.with_suffix(""), return_res=32)
