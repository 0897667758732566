"""Inter-patient protocol: record folds, splits by record, several folders, and the CLI/config reaching them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures_wfdb import make_mitbih_beats_tree

import erts_kit.cli.commands as cli
from erts_kit.cli.commands import build_parser, main
from erts_kit.data.mitbih import load_mitbih
from erts_kit.data import ECGData
from erts_kit.data.protocol import DS1, DS2, held_out_fold, inter_patient_splits, record_folds


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1), (5, 7), (22, 3)])
def test_record_folds_never_share_a_record_and_cover_every_one(k, seed):
    rng = np.random.default_rng(seed)
    counts = pd.DataFrame(rng.integers(0, 50, size=(len(DS1), 4)), index=list(DS1))
    for folds in (record_folds(DS1, k, seed), record_folds(DS1, k, seed, counts=counts)):
        flat = [r for f in folds for r in f]
        assert len(folds) == k and sorted(flat) == sorted(DS1) and len(set(flat)) == len(flat)
        assert max(map(len, folds)) - min(map(len, folds)) <= 1


def test_record_folds_spread_a_rare_class_over_folds():
    counts = pd.DataFrame({"N": [100] * 6, "F": [30, 30, 30, 0, 0, 0]}, index=list("abcdef"))
    folds = record_folds(list("abcdef"), 3, seed=0, counts=counts)
    assert all(sum(counts.loc[f, "F"]) == 30 for f in folds)           # one F-rich record per fold


def test_record_folds_refuse_more_folds_than_records():
    with pytest.raises(ValueError, match="at least k=4 records"):
        record_folds(["a", "b", "c"], 4)


def test_inter_patient_splits_errors_name_what_is_wrong():
    rec = np.array(["a", "a", "b", "c", "d"])
    with pytest.raises(ValueError, match="'val' split is empty"):
        inter_patient_splits(rec, ["a", "b"], ["d"], val_records=["x"])
    with pytest.raises(ValueError, match="'train' split is empty"):
        inter_patient_splits(rec, ["a"], ["d"], val_records=["a"])
    with pytest.raises(ValueError, match="exactly one of val_records"):
        inter_patient_splits(rec, ["a", "b"], ["d"])
    with pytest.raises(ValueError, match="in both train_records and test_records"):
        inter_patient_splits(rec, ["a", "d"], ["d"], val_records=["a"])
    with pytest.raises(ValueError, match=r"fold in 0..1"):
        inter_patient_splits(rec, ["a", "b", "c"], ["d"], n_folds=2, fold=2)


def test_folds_of_the_reader_hold_out_whole_records_once_each(tmp_path):
    tree = make_mitbih_beats_tree(tmp_path, list(DS1[:6]) + [DS2[0]], seconds=20)
    held = []
    for fold in range(3):
        d = load_mitbih(tree, window_s=0.5, n_folds=3, fold=fold, seed=1)
        rec = d.meta["record"]
        val, train = set(rec[d.splits["val"]]), set(rec[d.splits["train"]])
        assert not val & train and set(rec[d.splits["test"]]) == {DS2[0]}
        held += sorted(val)
    assert sorted(held) == sorted(DS1[:6])


def test_reader_takes_several_folders_fixed_validation_records_and_rr_aux(tmp_path):
    make_mitbih_beats_tree(tmp_path / "ds1", DS1[:3], seconds=20)
    make_mitbih_beats_tree(tmp_path / "ds2", DS2[:2], seconds=20, seed=1)
    d = load_mitbih([tmp_path / "ds1", tmp_path / "ds2"], context="rr", val_records=[DS1[1]], fs=180)
    rec = d.meta["record"]
    assert set(rec[d.splits["val"]]) == {DS1[1]} and set(rec[d.splits["test"]]) == set(DS2[:2])
    assert d.fs == 180 and d.n_timesteps == round(0.8 * 180) and d.aux.shape == (d.n_samples, 4)
    s, n = d.class_names.index("S"), d.class_names.index("N")
    assert d.aux[d.labels == s, 0].mean() < -0.2 < d.aux[d.labels == n, 0].mean()   # S beats come early


def test_load_dataset_takes_two_mitbih_folders_separated_by_a_comma(tmp_path):
    from erts_kit.data import load_dataset
    make_mitbih_beats_tree(tmp_path / "ds1", DS1[:2], seconds=20)
    make_mitbih_beats_tree(tmp_path / "ds2", DS2[:1], seconds=20)
    d = load_dataset("mitbih", f"{tmp_path / 'ds1'},{tmp_path / 'ds2'}", val_records=[DS1[0]])
    assert set(d.meta["record"]) == {*DS1[:2], DS2[0]} and len(d.splits["test"]) > 0
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("mitbih", f"{tmp_path / 'ds1'},{tmp_path / 'nope'}")


def test_zero_validation_records_is_refused_clearly_by_train(tmp_path):
    from erts_kit.models import build_model
    from erts_kit.training import train
    tree = make_mitbih_beats_tree(tmp_path, DS1[:2], seconds=20)
    d = load_mitbih(tree, window_s=0.5, n_val_records=0)
    with pytest.raises(ValueError, match=r"non-empty 'val' split.*val_records=\[...\], n_folds=k"):
        train(build_model("small_cnn", 1, 5), d, progress=False)


def _resolved(argv):
    return cli._settings(build_parser().parse_args(argv), cli._explicit(argv))


def test_cli_flags_and_config_sections_reach_the_reader_and_the_model(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("dataset: mitbih\ndata:\n  context: rr\n  n_folds: 3\n  fold: 1\nmodel:\n  name: small_cnn\n"
                 "  width: 8\n")
    s = _resolved(["compare", "--config", str(f), "--fold", "2", "--val-records", "101,106"])
    assert s["model"] == "small_cnn" and s["model_options"] == {"width": 8}
    assert s["data_options"] == {"context": "rr", "n_folds": 3, "fold": 2, "val_records": ["101", "106"]}
    cfg = cli._experiment_config(s)
    assert cfg.data_kwargs["context"] == "rr" and cfg.model_kwargs == {"width": 8}
    s = _resolved(["train", "--config", "mitbih_beats"])   # the packaged recipe is valid as it stands
    assert s["data_options"]["context"] == "rr" and s["model_options"]["width"] == 16


@pytest.mark.parametrize("text, match", [
    ("dataset: mitbih\ndata:\n  contxt: rr\n", "Unknown data (mitbih reader) option(s) contxt"),
    ("model:\n  name: small_cnn\n  widht: 8\n", "Unknown model (small_cnn) option(s) widht"),
    ("dataset: synthetic\ndata:\n  context: rr\n", "Unknown data (synthetic reader) option(s) context"),
    ("data: 3\n", "Expected the data section"),
])
def test_config_sections_with_unknown_keys_are_refused_naming_them(capsys, tmp_path, text, match):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert match in err and "expected any of" in err or "mapping" in err


def test_mitbih_flags_with_another_dataset_are_refused(capsys, tmp_path):
    assert main(["train", "--context", "rr", "--out", str(tmp_path / "never")]) == 2
    assert "apply to --dataset mitbih only" in capsys.readouterr().err


@pytest.mark.slow
def test_train_command_runs_mitbih_with_rr_aux_end_to_end(capsys, tmp_path):
    import json
    tree = make_mitbih_beats_tree(tmp_path / "db", DS1[:3] + DS2[:1], seconds=30)
    out = tmp_path / "out"
    code = main(["train", "--dataset", "mitbih", "--data-dir", str(tree), "--context", "rr", "--val-records", DS1[2],
                 "--policy", "full", "--epochs", "1", "--width", "8", "--batch-size", "64", "--seeds", "0",
                 "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    settings = json.loads((out / "full_seed0" / "settings.json").read_text())
    assert settings["n_aux"] == 4 and settings["model_kwargs"] == {"width": 8}
    assert settings["data"]["aux"] == ["pre_rr_rel", "post_rr_rel", "local_rr_rel", "record_rr"]


def _records_data(n_records: int = 6, per_record: int = 30) -> ECGData:
    rec = np.repeat([f"r{i}" for i in range(n_records)], per_record)
    labels = np.tile(np.r_[np.zeros(per_record - 6, int), np.ones(4, int), np.full(2, 2)], n_records)
    meta = pd.DataFrame({"record": rec, "symbol": np.array(["N", "V", "Q"])[labels]})
    return ECGData(np.arange(len(rec), dtype=np.float32)[:, None, None].repeat(4, 2), labels, ["N", "V", "Q"],
                   100, meta=meta)


def test_held_out_fold_tests_on_whole_unseen_records_and_validates_on_the_others():
    d = _records_data()
    seen_test = []
    for fold in range(3):
        f = held_out_fold(d, fold, 3, seed=1, val_share=0.2, max_majority_per_record=10, drop_from_train=("Q",))
        rec = f.meta["record"].to_numpy()
        test_recs = set(rec[f.splits["test"]])
        assert len(test_recs) == 2 and not test_recs & set(rec[np.r_[f.splits["train"], f.splits["val"]]])
        assert len(f.splits["test"]) == 2 * 30          # the test fold is never thinned
        fit = np.r_[f.splits["train"], f.splits["val"]]
        assert 2 not in f.labels[fit]                  # Q left out of train and validation only
        assert (f.labels[f.splits["test"]] == 2).sum() == 4
        n_per_rec = pd.Series(rec[fit][f.labels[fit] == 0]).value_counts()
        assert (n_per_rec == 10).all() and len(n_per_rec) == 4     # N capped at 10 per training record
        assert (f.labels[fit] == 1).sum() == 16                      # every V beat kept
        assert len(f.splits["val"]) == int(np.ceil(0.2 * len(fit)))   # sklearn rounds the test share up
        # the subset points back at the original samples (the signal holds the original index)
        assert np.array_equal(f.signals[:, 0, 0].astype(int), f.meta["orig_index"].to_numpy())
        seen_test += sorted(test_recs)
    assert sorted(seen_test) == sorted(set(d.meta["record"]))     # every record is tested exactly once


@pytest.mark.parametrize("kwargs, match", [
    ({"fold": 3}, "Expected fold in 0..2"),
    ({"fold": 0, "val_share": 0.7}, "val_share in"),
    ({"fold": 0, "drop_from_train": ("X",)}, "unknown classes"),
])
def test_held_out_fold_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        held_out_fold(_records_data(), n_folds=3, **kwargs)


def test_held_out_fold_needs_a_record_column():
    d = ECGData(np.zeros((4, 1, 4), np.float32), [0, 1, 0, 1], ["a", "b"], 100)
    with pytest.raises(ValueError, match="'record' column"):
        held_out_fold(d, 0)
