"""PTB-XL reader on small PTB-XL-like trees written with wfdb.wrsamp."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures_wfdb import SCP_CLASSES, make_ptbxl_tree, truncate_signal_file

from erts_kit.data._wfdb_io import RecordReadError
from erts_kit.data.ptbxl import PTBXL_CLASSES, load_ptbxl, multilabel_row, paper_label, parse_scp_codes

CODE_CLASS = {k: v for k, v in SCP_CLASSES.items() if v}

# ecg_id 1..8 with folds chosen so every split is populated
CODES = [{"IMI": 100.0, "NORM": 50.0}, {}, {"NDT": 50.0, "SR": 0.0}, {"SR": 0.0}, {"LVH": 50.0, "IMI": 50.0},
         {"NORM": 100.0, "SR": 0.0}, {"IRBBB": 100.0, "LAFB": 100.0}, {"ISC_": 0.0, "AFIB": 0.0}]
FOLDS = [1, 2, 9, 10, 3, 8, 10, 9]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl"), CODES, folds=FOLDS, seed=1)


@pytest.mark.parametrize("codes, expected", [
    ({"IMI": 100.0, "NORM": 50.0}, ("MI", "IMI")),
    ({}, ("NORM", None)),
    ({"SR": 0.0, "AFIB": 100.0}, ("NORM", None)),           # no diagnostic code at all
    ({"SR": 100.0, "NDT": 0.0}, ("STTC", "NDT")),             # likelihood-0 diagnostic codes still count
    ({"LVH": 50.0, "IMI": 50.0}, ("HYP", "LVH")),             # tie: first listed wins
    ({"IMI": 50.0, "LVH": 50.0}, ("MI", "IMI")),
    ({"NORM": 80.0, "CLBBB": 100.0}, ("CD", "CLBBB")),
])
def test_paper_label_hand_made_rows(codes, expected):
    assert paper_label(codes, CODE_CLASS) == expected


def test_multilabel_row_order_and_content():
    assert PTBXL_CLASSES == ["NORM", "MI", "STTC", "CD", "HYP"]
    assert multilabel_row({"IMI": 100.0, "NDT": 0.0, "SR": 0.0}, CODE_CLASS).tolist() == [0, 1, 1, 0, 0]
    assert multilabel_row({}, CODE_CLASS).tolist() == [0, 0, 0, 0, 0]


def test_parse_scp_codes_is_literal_only():
    assert parse_scp_codes("{'NORM': 100.0, 'SR': 0.0}") == {"NORM": 100.0, "SR": 0.0}
    with pytest.raises(ValueError, match="scp_codes"):
        parse_scp_codes("__import__('os').getcwd()")
    with pytest.raises(ValueError, match="scp_codes"):
        parse_scp_codes("['NORM']")


def test_load_paper_labels_splits_and_zscore(tree):
    d = load_ptbxl(tree, progress=False)
    assert d.signals.shape == (8, 12, 1000) and d.signals.dtype == np.float32 and d.fs == 100
    assert d.lead_names[:3] == ["I", "II", "III"]
    assert [d.class_names[i] for i in d.labels] == ["MI", "NORM", "STTC", "NORM", "HYP", "NORM", "CD", "STTC"]
    assert d.meta["label_code"].tolist() == ["IMI", "", "NDT", "", "LVH", "NORM", "IRBBB", "ISC_"]
    assert d.meta["ecg_id"].tolist() == list(range(1, 9))
    assert d.split("train").tolist() == [0, 1, 4, 5]   # folds 1, 2, 3, 8
    assert d.split("val").tolist() == [2, 7]           # fold 9
    assert d.split("test").tolist() == [3, 6]          # fold 10
    np.testing.assert_allclose(d.signals.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(d.signals.std(-1), 1, atol=1e-3)


def test_unnormalized_values_are_millivolts(tmp_path):
    sig = np.tile(np.linspace(-1, 1, 1000)[:, None], (1, 12))
    root = make_ptbxl_tree(tmp_path, [{"NORM": 100.0}], folds=[1], signals={1: sig})
    d = load_ptbxl(root, normalize=False, progress=False)
    np.testing.assert_allclose(d.signals[0, 5], sig[:, 5], atol=1e-3)  # 16-bit at 1000/mV


def test_multilabel(tree):
    d = load_ptbxl(tree, labels="multilabel", progress=False)
    assert d.multilabel and d.labels.shape == (8, 5)
    assert d.labels[0].tolist() == [1, 1, 0, 0, 0]   # IMI + NORM
    assert d.labels[1].tolist() == [0, 0, 0, 0, 0]   # no diagnostic code: all-zero row kept
    assert d.labels[6].tolist() == [0, 0, 0, 1, 0]
    assert d.meta["superclasses"].tolist()[:2] == ["NORM|MI", ""]


def test_500_hz(tmp_path):
    root = make_ptbxl_tree(tmp_path, [{"NORM": 100.0}, {"IMI": 80.0}], folds=[1, 10], rates=(100, 500))
    d = load_ptbxl(root, fs=500, progress=False)
    assert d.signals.shape == (2, 12, 5000) and d.fs == 500
    assert d.meta["filename"].tolist()[0] == "records500/00000/00001_hr"
    with pytest.raises(ValueError, match="fs"):
        load_ptbxl(root, fs=250)


def test_missing_paths_name_the_download_command(tmp_path, tree):
    with pytest.raises(FileNotFoundError, match=r"erts-kit download ptbxl --dir .*nowhere"):
        load_ptbxl(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"ptbxl_database.csv.*erts-kit download ptbxl --dir"):
        load_ptbxl(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"records500.*erts-kit download ptbxl --dir .* --fs 500"):
        load_ptbxl(tree, fs=500)


def test_corrupt_record_raises_or_is_skipped(tmp_path):
    root = make_ptbxl_tree(tmp_path, CODES[:4], folds=[1, 9, 10, 1])
    truncate_signal_file(root / "records100/00000/00002_lr")
    with pytest.raises(RecordReadError, match="ecg_id 2 .*00002_lr"):
        load_ptbxl(root, progress=False)
    with pytest.warns(UserWarning, match="skipped 1 record.*ecg_id 2"):
        d = load_ptbxl(root, on_error="skip", progress=False)
    assert d.meta["ecg_id"].tolist() == [1, 3, 4]
    assert [s["record"] for s in d.meta.attrs["skipped"]] == ["ecg_id 2 (records100/00000/00002_lr)"]
    assert d.split("val").tolist() == [] and d.split("test").tolist() == [1]


def test_missing_signal_file_and_nan_and_flat(tmp_path):
    rng = np.random.default_rng(0)
    nan_sig = rng.normal(size=(1000, 12))
    nan_sig[10:20, 4] = np.nan
    flat_one = rng.normal(size=(1000, 12))
    flat_one[:, 7] = 0.25
    root = make_ptbxl_tree(tmp_path, [{"NORM": 100.0}] * 5, folds=[1] * 5,
                           signals={2: nan_sig, 3: flat_one, 4: np.zeros((1000, 12))})
    (root / "records100/00000/00005_lr.dat").unlink()
    with pytest.raises(RecordReadError, match="ecg_id 2 .*NaN.*lead\\(s\\) 4"):
        load_ptbxl(root, progress=False)
    with pytest.warns(UserWarning) as rec:
        d = load_ptbxl(root, on_error="skip", progress=False)
    messages = " ".join(str(w.message) for w in rec)
    assert "flat lead" in messages and "ecg_id 3" in messages
    reasons = {s["record"].split(" (")[0]: s["reason"] for s in d.meta.attrs["skipped"]}
    assert set(reasons) == {"ecg_id 2", "ecg_id 4", "ecg_id 5"}
    assert "NaN" in reasons["ecg_id 2"] and "every lead is flat" in reasons["ecg_id 4"]
    assert "signal file missing" in reasons["ecg_id 5"]
    assert d.meta["ecg_id"].tolist() == [1, 3] and d.meta["flat_leads"].tolist() == [0, 1]
    assert np.all(d.signals[1, 7] == 0) and np.isfinite(d.signals).all()


def test_cache_hit_other_settings_and_skip_report(tmp_path, monkeypatch):
    root = make_ptbxl_tree(tmp_path / "db", CODES[:3], folds=[1, 9, 10])
    truncate_signal_file(root / "records100/00000/00003_lr")
    with pytest.warns(UserWarning, match="skipped 1"):
        first = load_ptbxl(root, cache_dir=tmp_path / "cache", on_error="skip", progress=False)
    import erts_kit.data.ptbxl as ptbxl_mod

    def no_build(*a, **k):
        raise AssertionError("cache miss: records were read again")

    monkeypatch.setattr(ptbxl_mod, "_build_ptbxl", no_build)
    with pytest.warns(UserWarning, match="leaves out 1 record"):
        again = load_ptbxl(root, cache_dir=tmp_path / "cache", on_error="skip", progress=False)
    assert isinstance(again.signals, np.memmap)
    np.testing.assert_array_equal(first.signals, again.signals)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert again.meta.attrs["skipped"] == first.meta.attrs["skipped"]
    with pytest.raises(AssertionError, match="cache miss"):  # other settings: not reused
        load_ptbxl(root, cache_dir=tmp_path / "cache", on_error="skip", labels="multilabel", progress=False)
