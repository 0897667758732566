"""PhysioNet/CinC 2020 reader on small trees of hand-written headers + MATLAB v4 .mat files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.signal
import wfdb
from fixtures_wfdb import make_cinc_tree, truncate_signal_file, write_cinc_record

from erts_kit.data._wfdb_io import RecordReadError
from erts_kit.data.cinc import (
    CINC_CLASSES,
    CINC_CLASSES_REFERENCE,
    fit_length,
    load_cinc2020,
    map_dx,
    parse_dx,
    stratified_split,
)

NORM, AF, RBBB, ST, OTHER_CODE = "426783006", "164889003", "59118001", "164931005", "251146004"


def test_class_list_is_the_papers_eight():
    assert CINC_CLASSES == ["NORM", "AF", "AVB", "LBBB", "RBBB", "PVC/PAC", "ST", "OTHER"]


@pytest.mark.parametrize("codes, expected", [
    ([426783006], ("NORM", 426783006)),
    ([251146004, 164890007, 426783006], ("AF", 164890007)),   # first mapped code wins (flutter -> AF)
    ([713426002, 164909002], ("RBBB", 713426002)),
    ([27885002], ("AVB", 27885002)),
    ([63593006], ("PVC/PAC", 63593006)),
    ([429622005], ("ST", 429622005)),
    ([251146004, 10370003], ("OTHER", None)),
])
def test_map_dx_first_match(codes, expected):
    assert map_dx(codes) == expected


def test_parse_dx_errors_name_the_file():
    assert parse_dx(["Age: 60", "Dx: 426783006,164889003 "], "x") == [426783006, 164889003]
    with pytest.raises(RecordReadError, match=r"A0007\.hea.*numeric SNOMED.*'AF, 426783006'"):
        parse_dx(["Dx: AF, 426783006"], "A0007 (/data/A0007.hea)")
    with pytest.raises(RecordReadError, match="no '#Dx:' line"):
        parse_dx(["Age: 60"], "A0001")


def test_fit_length_and_split_hand_checked():
    assert fit_length(np.arange(4.0)[None], 6).tolist() == [[0, 1, 2, 3, 0, 0]]
    y = np.array([0] * 20 + [1] * 10)
    s = stratified_split(y, seed=42)
    assert [len(s[k]) for k in ("train", "val", "test")] == [24, 3, 3]
    assert sorted(np.concatenate(list(s.values())).tolist()) == list(range(30))
    assert np.bincount(y[s["test"]], minlength=2).tolist() == [2, 1]
    assert all((s[k] == stratified_split(y, seed=42)[k]).all() for k in s)
    assert any((s[k] != stratified_split(y, seed=1)[k]).any() for k in s)


def test_load_labels_lengths_and_meta(tmp_path):
    dx = [NORM, f"{OTHER_CODE},{AF}", RBBB, ST, OTHER_CODE, NORM]
    root = make_cinc_tree(tmp_path, dx, n_samples=[1500, 800, 1000, 1200, 1100, 2000])
    with pytest.warns(UserWarning, match="1 SNOMED code.*251146004 x2.*1 record.*OTHER"):
        d = load_cinc2020(root, n_timesteps=1000, progress=False)
    assert d.signals.shape == (6, 12, 1000) and d.fs == 500 and d.lead_names[0] == "I"
    assert [d.class_names[i] for i in d.labels] == ["NORM", "AF", "RBBB", "ST", "OTHER", "NORM"]
    assert d.meta["record"].tolist() == ["A0001", "A0002", "A0003", "A0004", "A0005", "A0006"]
    assert d.meta["padded"].tolist() == [False, True, False, False, False, False]
    assert d.meta["n_samples_orig"].tolist()[:2] == [1500, 800]
    assert d.meta["sex"].iloc[0] == "Male"
    assert d.meta.attrs["unmapped_dx"] == {OTHER_CODE: 2}
    # the short record: z-scored on its 800 real samples, zero padding after them
    np.testing.assert_allclose(d.signals[1, :, :800].mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(d.signals[1, :, :800].std(-1), 1, atol=1e-3)
    assert np.all(d.signals[1, :, 800:] == 0)
    assert sum(len(v) for v in d.splits.values()) == 6


def test_signal_values_and_georgia_length(tmp_path):
    val = np.tile((np.arange(300) - 150).astype(np.int16), (12, 1))
    write_cinc_record(tmp_path, "E00001", val, 500, NORM)
    write_cinc_record(tmp_path, "E00002", val[:, ::-1], 500, AF)
    write_cinc_record(tmp_path, "E00003", val, 500, RBBB)
    d = load_cinc2020(tmp_path, n_timesteps=500, normalize=False, progress=False)
    assert d.signals.shape == (3, 12, 500)
    np.testing.assert_allclose(d.signals[0, 3, :300], val[3] / 1000.0)   # 1000 units per mV
    assert np.all(d.signals[0, :, 300:] == 0)


def test_stratified_split_on_loaded_set(tmp_path):
    dx = [NORM] * 10 + [AF] * 10
    root = make_cinc_tree(tmp_path, dx, n_samples=200, n_leads=2)
    a = load_cinc2020(root, n_timesteps=200, progress=False)
    b = load_cinc2020(root, n_timesteps=200, progress=False)
    assert [len(a.split(k)) for k in ("train", "val", "test")] == [16, 2, 2]
    assert np.bincount(a.labels[a.split("val")], minlength=8)[:2].tolist() == [1, 1]
    assert all((a.split(k) == b.split(k)).all() for k in ("train", "val", "test"))


def test_bad_records_raise_or_skip(tmp_path):
    root = make_cinc_tree(tmp_path, [NORM, AF, RBBB, "AF,426783006", NORM], n_samples=300, n_leads=2)
    truncate_signal_file(root / "A0002")
    with pytest.raises(RecordReadError, match="A0002"):
        load_cinc2020(root, n_timesteps=300, progress=False)
    with pytest.warns(UserWarning, match="skipped 2 record"):
        d = load_cinc2020(root, n_timesteps=300, on_error="skip", progress=False)
    assert d.meta["record"].tolist() == ["A0001", "A0003", "A0005"]
    reasons = {s["record"].split(" ")[0]: s["reason"] for s in d.meta.attrs["skipped"]}
    assert set(reasons) == {"A0002", "A0004"} and "numeric SNOMED" in reasons["A0004"]


def test_non_numeric_dx_error_names_the_file(tmp_path):
    make_cinc_tree(tmp_path, [NORM, "Normal"], n_samples=100, n_leads=2)
    with pytest.raises(RecordReadError, match=r"A0002\.hea.*'Normal'"):
        load_cinc2020(tmp_path, n_timesteps=100, progress=False)


def test_other_sampling_rate_without_fs_says_to_pass_fs(tmp_path):
    make_cinc_tree(tmp_path / "a", [NORM, AF], n_samples=100, n_leads=2)
    make_cinc_tree(tmp_path / "b", [RBBB], n_samples=100, n_leads=2, fs=257, prefix="I")
    with pytest.raises(RecordReadError, match="I0001.*sampled at 257 Hz, the first record at 500 Hz. Pass fs=500") as exc:
        load_cinc2020(tmp_path, n_timesteps=100, progress=False)
    assert "Re-download" not in str(exc.value)


def test_other_lead_count_advice(tmp_path):
    make_cinc_tree(tmp_path / "a", [NORM, AF], n_samples=100, n_leads=2)
    make_cinc_tree(tmp_path / "b", [RBBB], n_samples=100, n_leads=3, prefix="I")
    with pytest.raises(RecordReadError, match="I0001.*3 leads, expected 2 like the first record. This reader needs"):
        load_cinc2020(tmp_path, n_timesteps=100, progress=False)


def _mixed_rate_tree(root):
    """A CinC 2021-like tree: 10-s records at 500 (A), 257 (I, INCART) and 1000 Hz (S, PTB)."""
    make_cinc_tree(root / "a", [NORM, AF], n_samples=5000, n_leads=2, fs=500, seed=1)
    make_cinc_tree(root / "i", [RBBB], n_samples=2570, n_leads=2, fs=257, prefix="I", seed=2)
    make_cinc_tree(root / "s", [ST, NORM], n_samples=10000, n_leads=2, fs=1000, prefix="S", seed=3)
    return root


def _raw_mv(path):
    rec = wfdb.rdrecord(str(path))
    return rec.p_signal.T, rec.fs


def test_mixed_rates_resampled_to_one_rate(tmp_path):
    root = _mixed_rate_tree(tmp_path)
    d = load_cinc2020(root, n_timesteps=6000, normalize=False, fs=500, progress=False)
    assert d.fs == 500 and d.signals.shape == (5, 2, 6000)
    assert d.meta["record"].tolist() == ["a/A0001", "a/A0002", "i/I0001", "s/S0001", "s/S0002"]
    assert d.meta["fs_orig"].tolist() == [500, 500, 257, 1000, 1000]
    assert d.meta["n_samples_orig"].tolist() == [5000, 5000, 2570, 10000, 10000]
    assert d.meta["n_samples_at_fs"].tolist() == [5000] * 5       # 10 s at 500 Hz each
    assert d.meta["padded"].all() and not d.meta["truncated"].any()
    for rec, up, down in [("a/A0001", 1, 1), ("i/I0001", 500, 257), ("s/S0001", 1, 2)]:
        row = d.meta["record"].tolist().index(rec)
        raw, _ = _raw_mv(root / rec)
        expected = raw if up == down else scipy.signal.resample_poly(raw, up, down, axis=1)
        np.testing.assert_allclose(d.signals[row, :, :5000], expected, rtol=1e-6, atol=1e-6)
        assert np.all(d.signals[row, :, 5000:] == 0)


def test_mixed_rates_down_to_100_hz_and_truncation_warning(tmp_path):
    root = _mixed_rate_tree(tmp_path)
    with pytest.warns(UserWarning, match=r"CinC: 5 of 5 record\(s\) are longer than n_timesteps=200 "
                                         r"\(2 s at 100 Hz\).*median 1000 samples = 10 s.*n_timesteps=1000"):
        d = load_cinc2020(root, n_timesteps=200, normalize=False, fs=100, progress=False)
    assert d.meta["truncated"].all() and d.meta["n_samples_at_fs"].tolist() == [1000] * 5
    raw, _ = _raw_mv(root / "i/I0001")
    row = d.meta["record"].tolist().index("i/I0001")
    np.testing.assert_allclose(d.signals[row], scipy.signal.resample_poly(raw, 100, 257, axis=1)[:, :200],
                               rtol=1e-6, atol=1e-6)


def test_no_truncation_warning_when_records_fit(tmp_path):
    root = make_cinc_tree(tmp_path, [NORM, AF, RBBB], n_samples=300, n_leads=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*longer than n_timesteps")
        d = load_cinc2020(root, n_timesteps=300, progress=False)
    assert not d.meta["truncated"].any()


def test_reference_class_order(tmp_path):
    assert sorted(CINC_CLASSES_REFERENCE) == sorted(CINC_CLASSES)
    assert CINC_CLASSES_REFERENCE == ["NORM", "AF", "LBBB", "RBBB", "ST", "AVB", "PVC/PAC", "OTHER"]
    dx = [NORM, AF, "164909002", RBBB, ST, "270492004", "427172004", OTHER_CODE] * 3
    root = make_cinc_tree(tmp_path, dx, n_samples=100, n_leads=2)
    kit = load_cinc2020(root, n_timesteps=100, progress=False)
    ref = load_cinc2020(root, n_timesteps=100, progress=False, class_order="reference")
    assert ref.class_names == CINC_CLASSES_REFERENCE and ref.meta.attrs["class_order"] == "reference"
    assert ref.labels[:8].tolist() == list(range(8))                   # dx above is in the reference's order
    assert [ref.class_names[i] for i in ref.labels] == [kit.class_names[i] for i in kit.labels]
    with pytest.raises(ValueError, match="class_order"):
        load_cinc2020(root, class_order="paper")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*challenge-2020"):
        load_cinc2020(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="No .hea"):
        load_cinc2020(tmp_path)


def test_cache(tmp_path, monkeypatch):
    root = make_cinc_tree(tmp_path / "db", [NORM, AF, RBBB, NORM], n_samples=150, n_leads=2)
    first = load_cinc2020(root, n_timesteps=100, cache_dir=tmp_path / "c", progress=False)
    import erts_kit.data.cinc as cinc_mod

    def no_build(*a, **k):
        raise AssertionError("cache miss")

    monkeypatch.setattr(cinc_mod, "_build_cinc", no_build)
    again = load_cinc2020(root, n_timesteps=100, cache_dir=tmp_path / "c", progress=False)
    assert isinstance(again.signals, np.memmap)
    np.testing.assert_array_equal(first.signals, again.signals)
    assert {k: v.tolist() for k, v in first.splits.items()} == {k: v.tolist() for k, v in again.splits.items()}
    with pytest.raises(AssertionError, match="cache miss"):
        load_cinc2020(root, n_timesteps=100, seed=7, cache_dir=tmp_path / "c", progress=False)


def test_cache_key_holds_fs_and_class_order_and_warning_repeats(tmp_path):
    root = _mixed_rate_tree(tmp_path / "db")
    with pytest.warns(UserWarning, match="5 of 5 record"):
        first = load_cinc2020(root, n_timesteps=500, fs=250, cache_dir=tmp_path / "c", progress=False)
    with pytest.warns(UserWarning, match="5 of 5 record"):   # said again on a cache hit
        again = load_cinc2020(root, n_timesteps=500, fs=250, cache_dir=tmp_path / "c", progress=False)
    assert isinstance(again.signals, np.memmap) and again.fs == 250
    np.testing.assert_array_equal(first.signals, again.signals)
    other = load_cinc2020(root, n_timesteps=500, fs=500, class_order="reference", cache_dir=tmp_path / "c",
                          progress=False)
    assert other.fs == 500 and other.class_names == CINC_CLASSES_REFERENCE
    assert len(list((tmp_path / "c").iterdir())) == 2


def test_real_cinc_records(cinc_dir):
    """The real CinC 2021 sample (50 records, 500 Hz, 10 s): read whole, and resampled to 100 Hz."""
    d = load_cinc2020(cinc_dir, n_timesteps=5000, normalize=False, progress=False)
    assert d.signals.shape[1:] == (12, 5000) and d.fs == 500 and d.n_samples == len(list(cinc_dir.rglob("*.hea")))
    assert not d.meta["truncated"].any() and np.isfinite(d.signals).all()
    first = d.meta["record"].iloc[0]
    raw, _ = _raw_mv(cinc_dir / first)
    np.testing.assert_allclose(d.signals[0, :, :raw.shape[1]], raw, rtol=1e-6, atol=1e-7)
    with pytest.warns(UserWarning, match="longer than n_timesteps=100"):
        low = load_cinc2020(cinc_dir, n_timesteps=100, fs=100, normalize=False, progress=False)
    assert low.fs == 100 and low.meta["n_samples_at_fs"].eq(1000).all() and low.meta["truncated"].all()
    np.testing.assert_allclose(low.signals[0], scipy.signal.resample_poly(raw, 1, 5, axis=1)[:, :100],
                               rtol=1e-6, atol=1e-6)
