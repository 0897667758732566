"""MIT-BIH beat reader on hand-made WFDB records (wfdb.wrsamp + wfdb.wrann) with known beats.

Every record is 3600 samples at 360 Hz (10 s). Its MLII lead is a ramp, ``MLII[t] = t / 1000`` mV
(stored exactly: format 16, gain 1000/mV), the other lead is ``-t / 1000``; so an un-normalised
window's value at its centre tells which sample it is centred on.
"""
from __future__ import annotations

import numpy as np
import pytest
import wfdb
from fixtures_wfdb import truncate_signal_file, write_record

from erts_kit.data._wfdb_io import RecordReadError
from erts_kit.data.dataset import ECGData
from erts_kit.data.mitbih import AAMI_CLASSES, AAMI_MAP, DS1, DS2, PACED, load_mitbih, rr_features

FS = 360
N_SAMPLES = 3600
# (sample, symbol): '+' and '~' are not beats; the beats at 50 and 3550 are too close to an edge
# for a 0.5 s window (90 samples each side) and are dropped.
BEATS = [(10, "+"), (50, "N"), (400, "N"), (800, "A"), (1000, "V"), (1200, "~"), (1400, "L"), (1800, "F"),
         (2200, "j"), (2600, "E"), (3000, "/"), (3550, "N")]
KEPT = [400, 800, 1000, 1400, 1800, 2200, 2600, 3000]  # 0.5 s window
EXPECTED_COUNTS = {"N": 3, "S": 1, "V": 2, "F": 1, "Q": 1}  # N: 400 N, 1400 L, 2200 j


def _write(root, name, leads=("MLII", "V1"), beats=BEATS):
    t = np.arange(N_SAMPLES) / 1000.0
    cols = [t if lead == "MLII" else -t for lead in leads]
    write_record(root, name, np.column_stack(cols), fs=FS, sig_names=list(leads))
    samples, symbols = zip(*beats)
    wfdb.wrann(name, "atr", np.array(samples), symbol=list(symbols), write_dir=str(root))


@pytest.fixture
def mitdb(tmp_path):
    root = tmp_path / "mitdb"
    for name in ("101", "106", "108", "109", "100"):  # DS1 x4, DS2 x1
        _write(root, name)
    _write(root, "114", leads=("V5", "MLII"))  # DS1; MLII stored second, as in the real record 114
    return root


def test_constants_follow_aami_and_de_chazal():
    assert len(DS1) == len(DS2) == 22 and not set(DS1) & set(DS2)
    assert not set(PACED) & (set(DS1) | set(DS2))
    assert {s for s, c in AAMI_MAP.items() if c == "S"} == {"A", "a", "J", "S"}
    assert sorted(set(AAMI_MAP.values())) == sorted(AAMI_CLASSES)


def test_aami_counts_edge_drop_and_non_beats_ignored(mitdb):
    d = load_mitbih(mitdb, records=["101"], window_s=0.5, normalize=False)
    assert d.class_names == ["N", "S", "V", "F", "Q"]
    assert d.class_counts().to_dict() == EXPECTED_COUNTS
    assert d.meta["sample"].tolist() == KEPT
    assert d.meta["symbol"].tolist() == ["N", "A", "V", "L", "F", "j", "E", "/"]
    assert d.meta["record"].unique().tolist() == ["101"]
    assert d.signals.shape == (8, 1, 180) and d.signals.dtype == np.float32
    assert d.fs == 360 and d.lead_names == ["MLII"]


def test_windows_are_centred_on_the_r_peaks(mitdb):
    d = load_mitbih(mitdb, records=[101], window_s=0.5, normalize=False)
    centre = d.signals[:, 0, 90] * 1000
    np.testing.assert_allclose(centre, KEPT, atol=1e-3)
    first = d.signals[:, 0, 0] * 1000  # window starts T // 2 = 90 samples before the peak
    np.testing.assert_allclose(first, np.array(KEPT) - 90, atol=1e-3)


def test_rr_intervals_by_hand(mitdb):
    d = load_mitbih(mitdb, records=["101"], window_s=0.5, normalize=False, context="rr")
    row = d.meta.set_index("sample").loc[800]  # beats at 50, 400, 800, 1000
    assert row["pre_rr"] == pytest.approx(400 / FS)
    assert row["post_rr"] == pytest.approx(200 / FS)
    # local average of the last pre_rr values; the first beat (50) borrows its post interval (350)
    assert row["local_avg_rr"] == pytest.approx(np.mean([350, 350, 400]) / FS)
    assert row["pre_rr_ratio"] == pytest.approx(400 / np.mean([350, 350, 400]))
    feats = rr_features(d)
    assert feats.shape == (8, 4) and feats.dtype == np.float32
    np.testing.assert_allclose(feats[1], [400 / FS, 200 / FS, 1100 / 3 / FS, 1200 / 1100], rtol=1e-5)
    with pytest.raises(ValueError, match="pre_rr"):
        rr_features(ECGData(d.signals[:2], d.labels[:2], d.class_names, d.fs))


def test_last_beat_borrows_its_pre_interval(tmp_path):
    _write(tmp_path, "101", beats=[(400, "N"), (800, "N"), (1300, "V")])
    m = load_mitbih(tmp_path, window_s=0.5, normalize=False).meta
    assert m["post_rr"].tolist() == pytest.approx([400 / FS, 500 / FS, 500 / FS])
    assert m["pre_rr"].tolist() == pytest.approx([400 / FS, 400 / FS, 500 / FS])


def test_multibeat_window_holds_neighbouring_beats(mitdb):
    d = load_mitbih(mitdb, records=["101"], context="multibeat", normalize=False)
    assert d.n_timesteps == 1080  # 3.0 s at 360 Hz; 540 samples each side of the peak
    assert d.meta["sample"].tolist() == [800, 1000, 1400, 1800, 2200, 2600, 3000]
    np.testing.assert_allclose(d.signals[:, 0, 540] * 1000, d.meta["sample"], atol=1e-3)
    w = d.signals[1, 0] * 1000  # beat at 1000: its window spans samples 460..1539, so 800 and 1400 too
    assert w[0] == pytest.approx(460, abs=1e-3) and w[-1] == pytest.approx(1539, abs=1e-3)


def test_lead_selection_by_name_index_and_both(mitdb):
    mlii = load_mitbih(mitdb, records=["114"], window_s=0.5, normalize=False)
    assert mlii.lead_names == ["MLII"] and (mlii.signals[:, 0, 90] > 0).all()  # the ramp, stored 2nd
    v5 = load_mitbih(mitdb, records=["114"], window_s=0.5, normalize=False, lead="V5")
    np.testing.assert_allclose(v5.signals, -mlii.signals)
    np.testing.assert_allclose(load_mitbih(mitdb, records=["114"], window_s=0.5, normalize=False,
                                           lead=0).signals, v5.signals)
    both = load_mitbih(mitdb, records=["114", "101"], window_s=0.5, normalize=False, lead="both")
    assert both.lead_names == ["MLII", "second"] and both.n_leads == 2
    assert both.meta.groupby("record")["second_lead"].first().to_dict() == {"101": "V1", "114": "V5"}
    np.testing.assert_allclose(both.signals[:, 0], -both.signals[:, 1])


def test_record_without_the_lead_raises_naming_it_or_is_skipped(mitdb):
    with pytest.raises(RecordReadError, match=r"'114'.*no lead 'V1'"):
        load_mitbih(mitdb, records=["101", "114"], lead="V1")
    with pytest.warns(UserWarning, match="114"):
        d = load_mitbih(mitdb, records=["101", "114"], lead="V1", on_error="skip")
    assert d.meta["record"].unique().tolist() == ["101"]
    assert [s["record"] for s in d.meta.attrs["skipped"]] == ["114"]


def test_missing_records_are_listed(mitdb):
    with pytest.raises(ValueError, match="999, 232"):
        load_mitbih(mitdb, records=["101", "999", "232"])
    with pytest.raises(ValueError, match="No MIT-BIH records found"):
        load_mitbih(mitdb.parent)  # a folder without records


def test_default_records_are_the_non_paced_ds1_ds2_ones_present(mitdb):
    _write(mitdb, "102")  # paced: left out by default
    _write(mitdb, "999")  # not in DS1/DS2
    d = load_mitbih(mitdb, window_s=0.5)
    assert sorted(d.meta["record"].unique()) == ["100", "101", "106", "108", "109", "114"]
    explicit = load_mitbih(mitdb, records=["102", "100"], window_s=0.5)
    assert explicit.split("test").size == 8 and explicit.split("train").size == 0  # 102 in no split


def test_corrupt_dat_raises_naming_the_record_or_is_skipped(mitdb):
    truncate_signal_file(mitdb / "106", keep_bytes=100)
    with pytest.raises(RecordReadError, match="106"):
        load_mitbih(mitdb, records=["101", "106"])
    with pytest.warns(UserWarning, match="106"):
        d = load_mitbih(mitdb, records=["101", "106"], on_error="skip")
    assert d.meta["record"].unique().tolist() == ["101"]
    assert d.meta.attrs["skipped"][0]["record"] == "106"


def test_inter_patient_split_holds_out_whole_ds1_records(mitdb):
    d = load_mitbih(mitdb, window_s=0.5, n_val_records=2, seed=3)
    rec = d.meta["record"]
    train, val, test = (set(rec.iloc[d.split(s)]) for s in ("train", "val", "test"))
    assert test == {"100"}
    assert len(val) == 2 and len(train) == 3 and train | val == {"101", "106", "108", "109", "114"}
    assert sum(len(d.split(s)) for s in ("train", "val", "test")) == d.n_samples
    again = load_mitbih(mitdb, window_s=0.5, n_val_records=2, seed=3)
    assert set(again.meta["record"].iloc[again.split("val")]) == val
    vals = set()
    for seed in range(4):
        other = load_mitbih(mitdb, window_s=0.5, n_val_records=2, seed=seed)
        vals.add(frozenset(other.meta["record"].iloc[other.split("val")]))
    assert len(vals) > 1  # the seed matters


def test_val_hold_out_never_takes_most_of_a_class_away_from_train(tmp_path):
    no_f = [(x, "N" if s == "F" else s) for x, s in BEATS]
    for name in ("101", "108", "109"):
        _write(tmp_path, name, beats=no_f)
    _write(tmp_path, "106")  # the only record with an F beat (like 208 in the real DS1)
    vals = set()
    for seed in range(8):
        d = load_mitbih(tmp_path, window_s=0.5, n_val_records=1, seed=seed)
        vals |= set(d.meta["record"].iloc[d.split("val")])
        assert d.labels[d.split("train")].tolist().count(3) == 1  # the F beat stays in train
    assert "106" not in vals and len(vals) >= 2


def test_intra_patient_split_is_a_seeded_partition(mitdb):
    d = load_mitbih(mitdb, window_s=0.5, split="intra_patient", seed=1)
    parts = [d.split(s) for s in ("train", "val", "test")]
    assert sorted(np.concatenate(parts).tolist()) == list(range(d.n_samples))
    assert [len(p) for p in parts] == [38, 5, 5]  # 48 beats: 80 / 10 / 10
    np.testing.assert_array_equal(load_mitbih(mitdb, window_s=0.5, split="intra_patient", seed=1)
                                  .split("val"), parts[1])


def test_normalize_zscores_each_window(mitdb):
    d = load_mitbih(mitdb, records=["101"], window_s=0.5)
    np.testing.assert_allclose(d.signals.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(d.signals.std(-1), 1, atol=1e-4)


def test_cache_returns_the_same_data_without_rereading(mitdb, tmp_path, monkeypatch):
    import erts_kit.data.mitbih as mod

    first = load_mitbih(mitdb, records=["101", "114"], window_s=0.5, cache_dir=tmp_path / "cache")
    calls = []
    monkeypatch.setattr(mod, "_read_record", lambda *a: calls.append(a))
    again = load_mitbih(mitdb, records=["101", "114"], window_s=0.5, cache_dir=tmp_path / "cache")
    assert calls == []
    np.testing.assert_array_equal(np.asarray(again.signals), np.asarray(first.signals))
    assert again.meta["record"].tolist() == first.meta["record"].tolist()
    assert again.meta["sample"].tolist() == first.meta["sample"].tolist()
    np.testing.assert_array_equal(again.split("val"), first.split("val"))


@pytest.mark.parametrize("kw, match", [({"context": "triple"}, "context"), ({"window_s": -1.0}, "window_s"),
                                       ({"on_error": "ignore"}, "on_error"), ({"split": "random"}, "split")])
def test_bad_arguments_say_what_is_expected(mitdb, kw, match):
    with pytest.raises(ValueError, match=match):
        load_mitbih(mitdb, **kw)
