"""PhysioNet/CinC 2020 reader on small trees of hand-written headers + MATLAB v4 .mat files."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures_wfdb import make_cinc_tree, truncate_signal_file, write_cinc_record

from erts_kit.data._wfdb_io import RecordReadError
from erts_kit.data.cinc import CINC_CLASSES, fit_length, load_cinc2020, map_dx, parse_dx, stratified_split

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


def test_other_sampling_rate_is_a_bad_record(tmp_path):
    make_cinc_tree(tmp_path / "a", [NORM, AF], n_samples=100, n_leads=2)
    make_cinc_tree(tmp_path / "b", [RBBB], n_samples=100, n_leads=2, fs=257, prefix="I")
    with pytest.raises(RecordReadError, match="I0001.*257 Hz, expected 2 leads at 500 Hz"):
        load_cinc2020(tmp_path, n_timesteps=100, progress=False)


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
