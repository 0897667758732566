"""Runs know their data: a run folder records which data it was trained on, and refuses other data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from erts_kit.data import load_dataset
from erts_kit.data.identity import (
    DATA_FILE,
    DataMismatch,
    check_run_data,
    data_fingerprint,
    read_run_data,
)
from erts_kit.models import build_model
from erts_kit.results import open_run, pick_examples, run_grid
from erts_kit.training import TrainConfig, train

SMALL = dict(n_leads=2, duration_s=3.0, seed=1, label_flip_rate=0.2, artifact_rate=0.2)
CFG = {"batch_size": 16, "warm_up": 0, "cam_start": 1, "lr": 1e-3}


@pytest.fixture(scope="module")
def data_a():
    return load_dataset("synthetic", n_samples=60, **SMALL)


@pytest.fixture(scope="module")
def data_b():
    return load_dataset("synthetic", n_samples=80, **SMALL)


@pytest.fixture(scope="module")
def grid_run(data_a, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    run_grid(data_a, ["xai_dbpd"], [0], "small_cnn", 2, out, CFG, progress=False)
    return out / "xai_dbpd_seed0"


def test_fingerprint_changes_with_labels_and_split_but_not_with_signals(data_a):
    base = data_fingerprint(data_a)
    relabelled = load_dataset("synthetic", n_samples=60, **SMALL)
    relabelled.labels = relabelled.labels.copy()
    relabelled.labels[0] = (relabelled.labels[0] + 1) % relabelled.n_classes
    resplit = load_dataset("synthetic", n_samples=60, **SMALL)
    resplit.splits = {**resplit.splits, "train": resplit.splits["train"][1:]}
    rescaled = load_dataset("synthetic", n_samples=60, **SMALL)
    rescaled.signals = rescaled.signals * 2
    assert data_fingerprint(relabelled) != base
    assert data_fingerprint(resplit) != base
    assert data_fingerprint(rescaled) == base


def test_a_grid_run_folder_records_the_dataset_its_settings_and_fingerprint(grid_run, data_a):
    recorded = json.loads((grid_run / DATA_FILE).read_text())
    assert recorded["name"] == data_a.name
    assert recorded["settings"]["dataset"] == "synthetic" and recorded["settings"]["n_samples"] == 60
    assert recorded["n"] == 60 and recorded["splits"] == {k: len(v) for k, v in data_a.splits.items()}
    assert recorded["fingerprint"] == data_fingerprint(data_a)


def test_open_run_with_the_same_data_loads_log_and_weights(grid_run, data_a):
    log, best = open_run(grid_run, data_a)
    assert len(log.to_dataframe()) > 0 and "model" in best


def test_open_run_with_other_data_names_both_datasets_and_settings(grid_run, data_b):
    with pytest.raises(DataMismatch) as err:
        open_run(grid_run, data_b)
    msg = str(err.value)
    assert "'n_samples': 60" in msg and "'n_samples': 80" in msg
    assert data_fingerprint(data_b) in msg and str(grid_run) in msg
    assert err.value.recorded["n"] == 60 and err.value.given["n"] == 80


def test_pick_examples_refuses_other_data(grid_run, data_b):
    with pytest.raises(DataMismatch, match="n_samples"):
        pick_examples(grid_run, data_b, "small_cnn")


def test_resuming_train_on_other_data_is_refused(data_a, data_b, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=16)
    train(build_model("small_cnn", 2, data_a.n_classes), data_a, config=cfg, run_dir=tmp_path, progress=False)
    assert read_run_data(tmp_path)["fingerprint"] == data_fingerprint(data_a)
    with pytest.raises(DataMismatch, match="was trained on"):
        train(build_model("small_cnn", 2, data_b.n_classes), data_b, config=TrainConfig(epochs=2, batch_size=16),
              run_dir=tmp_path, progress=False, resume=True)


def test_grid_refuses_other_data_with_the_same_shape_before_training_and_overwrite_retrains(tmp_path):
    first = load_dataset("synthetic", n_samples=60, **SMALL)
    run_grid(first, ["full"], [0], "small_cnn", 1, tmp_path, CFG, progress=False)
    other = load_dataset("synthetic", n_samples=60, **SMALL)
    other.labels = np.roll(other.labels, 1)   # same shape, classes and settings: only the fingerprint differs
    with pytest.raises(DataMismatch):
        run_grid(other, ["full"], [0], "small_cnn", 1, tmp_path, CFG, progress=False)
    df = run_grid(other, ["full"], [0], "small_cnn", 1, tmp_path, CFG, progress=False, on_mismatch="overwrite")
    assert df.attrs["executed"] == ["full_seed0"]
    assert check_run_data(tmp_path / "full_seed0", other)["fingerprint"] == data_fingerprint(other)


def test_a_damaged_data_file_is_named(tmp_path, data_a):
    (tmp_path / DATA_FILE).write_text("{")
    with pytest.raises(ValueError, match="data.json is damaged"):
        check_run_data(tmp_path, data_a)
