"""Grid runner: filter precision/recall by hand, summaries, refusals, resumable grids."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import erts_kit.results.grid as ex
from erts_kit.data import load_dataset
from erts_kit.results import filter_precision_recall, plan_grid, run_grid, summarise
from erts_kit.selection import Decision


# --------------------------------------------------------------------------------------------------
# filter precision / recall on a hand-made log
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def hand_log():
    # 6 samples; 1 flipped, 3 with artefacts (2 muscle, 1 flat_lead: sample 3 is flipped too)
    meta = pd.DataFrame({
        "flipped":       [False, True, False, True, False, False],
        "artifact_kind": ["none", "none", "muscle", "flat_lead", "muscle", "none"],
    })
    meta["corrupted"] = meta["flipped"] | (meta["artifact_kind"] != "none")   # 1, 2, 3, 4 corrupted
    rows = [
        # epoch 0: warm-up, not a filter epoch (ignored although corrupted samples are there)
        *[(0, i, "WARMUP", np.nan) for i in range(6)],
        # epoch 4: filter epoch
        (4, 0, "DROPPED_LOW_FOCUS", 0.1),   # clean, dropped      -> false positive
        (4, 1, "DROPPED_LOW_FOCUS", 0.2),   # flipped, dropped    -> true positive
        (4, 2, "KEPT", 0.9),                # muscle, kept        -> missed
        (4, 3, "DROPPED_CONFIDENT", np.nan),  # corrupted but not a candidate (PDD dropped it)
        (4, 4, "RESCUED", 0.3),             # muscle, rescued     -> counts as kept (missed)
        (4, 5, "KEPT", 0.8),                # clean, kept
        # epoch 5: filter epoch
        (5, 2, "DROPPED_LOW_FOCUS", 0.1),   # muscle, dropped     -> true positive
        (5, 5, "KEPT", 0.7),                # clean, kept
    ]
    log = pd.DataFrame(rows, columns=["epoch", "index", "decision", "focus"])
    return log, meta


def test_filter_precision_recall_by_hand(hand_log):
    log, meta = hand_log
    r = filter_precision_recall(log, meta)
    assert r["epochs"] == [4, 5]
    # candidates: epoch 4 -> 0,1,2,4,5 ; epoch 5 -> 2,5  => 7 rows, corrupted among them: 1,2,4 (ep4), 2 (ep5) = 4
    assert (r["n_candidates"], r["n_dropped"], r["n_corrupted_candidates"], r["n_true_positive"]) == (7, 3, 4, 2)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 4)
    assert r["base_rate"] == pytest.approx(4 / 7)
    # every corrupted row of epochs 4-5: 1,2,3,4 (ep4) + 2 (ep5) = 5
    assert r["recall_all"] == pytest.approx(2 / 5)
    bk = r["by_kind"]
    assert bk["clean"] == {"n_candidates": 3, "n_dropped": 1, "drop_rate": pytest.approx(1 / 3)}
    assert bk["label_flip"] == {"n_candidates": 1, "n_dropped": 1, "drop_rate": 1.0}
    assert bk["muscle"] == {"n_candidates": 3, "n_dropped": 1, "drop_rate": pytest.approx(1 / 3)}
    assert bk["flat_lead"] == {"n_candidates": 0, "n_dropped": 0, "drop_rate": pytest.approx(np.nan, nan_ok=True)}
    assert set(bk) == {"clean", "label_flip", "muscle", "flat_lead"}


def test_filter_precision_recall_accepts_decision_codes_and_categoricals(hand_log):
    log, meta = hand_log
    ref = filter_precision_recall(log, meta)
    coded = log.assign(decision=[int(Decision[d]) for d in log["decision"]])
    cat = log.assign(decision=pd.Categorical(log["decision"]))
    for other in (coded, cat):
        r = filter_precision_recall(other, meta)
        assert (r["precision"], r["recall"], r["n_dropped"]) == (ref["precision"], ref["recall"], ref["n_dropped"])


def test_filter_precision_recall_without_filter_epochs_and_without_ground_truth(hand_log):
    log, meta = hand_log
    r = filter_precision_recall(log[log["epoch"] == 0], meta)
    assert r["epochs"] == [] and r["n_dropped"] == 0 and np.isnan(r["precision"]) and np.isnan(r["recall"])
    with pytest.raises(ValueError, match="corrupted"):
        filter_precision_recall(log, meta.drop(columns="corrupted"))
    with pytest.raises(ValueError, match="whole dataset"):
        filter_precision_recall(log, meta.iloc[:3])


# --------------------------------------------------------------------------------------------------
# summaries and refusals
# --------------------------------------------------------------------------------------------------
def test_summarise_mean_std_over_seeds_in_policy_order():
    df = pd.DataFrame({"dataset": "s", "model": "m", "policy": ["xai_dbpd", "full", "xai_dbpd"],
                       "seed": [1, 1, 2], "macro_f1": [0.4, 0.9, 0.6], "effective_epochs": [3.0, 5.0, 4.0]})
    s = summarise(df)
    assert s["policy"].tolist() == ["xai_dbpd", "full"]
    assert s["n_seeds"].tolist() == [2, 1]
    assert s["macro_f1_mean"].round(6).tolist() == [0.5, 0.9]
    assert s["effective_epochs_std"].iloc[0] == pytest.approx(np.std([3.0, 4.0], ddof=1))
    assert np.isnan(s["macro_f1_std"].iloc[1])


@pytest.mark.parametrize("kw, match", [
    ({"policies": ["nope"]}, "xai_dbpd"),                                   # lists the valid names
    ({"model": "nope"}, "small_cnn"),
    ({"epochs": 0}, "epochs >= 1"),
    ({"config": {"phi": 1.5}}, r"phi in \(0.0, 1.0\]"),
    ({"config": {"phi": 0.0}}, r"phi in \(0.0, 1.0\]"),
    ({"config": {"warm_up": 5, "start_revision": 2}}, "start_revision >= warm_up"),
    ({"epochs": 4}, "starts its focus filter at epoch 8"),
    ({"seeds": [1, 1]}, "distinct seeds"),
    ({"config": {"device": "cuda:7"}}, "not available|Unknown device"),
])
def test_plan_grid_refuses_impossible_settings(kw, match):
    args = {"policies": ["full", "xai_dbpd"], "seeds": [1], "model": "small_cnn", "epochs": 10, "config": None}
    args.update(kw)
    if "cuda" in str(args["config"]):
        import torch
        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
    with pytest.raises((ValueError, TypeError), match=match):
        plan_grid(**args)


def test_policy_receives_only_its_parameters():
    runs = plan_grid(["full", "srd", "xai_dbpd"], [3], "small_cnn", 6, {"phi": 0.5, "gamma": 0.9, "tau": 0.2,
                                                                        "warm_up": 2, "cam_start": 1})
    params = {r.policy: r.policy_obj.params() for r in runs}
    assert params["full"] == {"name": "full", "seed": 3}
    assert params["srd"]["gamma"] == 0.9 and "phi" not in params["srd"]
    assert (params["xai_dbpd"]["phi"], params["xai_dbpd"]["tau"], params["xai_dbpd"]["cam_start"]) == (0.5, 0.2, 1)


def test_full_loss_makes_the_papers_confound_explicit():
    runs = plan_grid(["full", "dbpd"], [0], "small_cnn", 6, {"loss": "cb_ce", "full_loss": "ce"})
    assert {r.policy: r.train_config.loss for r in runs} == {"full": "ce", "dbpd": "cb_ce"}
    runs = plan_grid(["full", "dbpd"], [0], "small_cnn", 6, {"loss": "cb_ce", "full_loss": "same"})
    assert {r.train_config.loss for r in runs} == {"cb_ce"}


# --------------------------------------------------------------------------------------------------
# a tiny resumable grid
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("synthetic", n_samples=60, n_leads=2, duration_s=3.0, seed=1,
                        label_flip_rate=0.2, artifact_rate=0.2)


CFG = {"batch_size": 16, "warm_up": 0, "cam_start": 1, "lr": 1e-3}
TIMING = ["wall_seconds", "process_seconds"]


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in df.columns if c in TIMING or c.startswith("seconds_")])


def test_run_grid_resume_skips_finished_runs_and_redoes_only_the_missing_one(tiny_data, tmp_path, monkeypatch):
    calls = []
    real_train = ex.train

    def counting_train(*a, **kw):
        calls.append(a[2].name)
        return real_train(*a, **kw)

    monkeypatch.setattr(ex, "train", counting_train)
    args = (tiny_data, ["full", "xai_dbpd"], [0], "small_cnn", 2, tmp_path)
    first = run_grid(*args, CFG, progress=False)
    assert calls == ["full", "xai_dbpd"] and first.attrs["executed"] == ["full_seed0", "xai_dbpd_seed0"]
    assert first["policy"].tolist() == ["full", "xai_dbpd"]
    assert (tmp_path / "results.csv").exists() and (tmp_path / "results.json").exists()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["policy"] for r in saved] == ["full", "xai_dbpd"]
    row = first.set_index("policy").loc["xai_dbpd"]
    assert row["filter_start"] == 1 and row["filter_n_dropped"] > 0 and 0 <= row["filter_precision"] <= 1
    assert np.isnan(first.set_index("policy").loc["full", "filter_precision"])
    assert first.set_index("policy").loc["full", "effective_epochs"] == pytest.approx(2.0)
    assert row["compute_equivalent_epochs"] > row["effective_epochs"]     # scoring + Grad-CAM are counted

    calls.clear()
    again = run_grid(*args, CFG, progress=False)
    assert calls == [] and again.attrs["skipped"] == ["full_seed0", "xai_dbpd_seed0"]
    pd.testing.assert_frame_equal(again, first)

    (tmp_path / "xai_dbpd_seed0" / "result.json").unlink()
    third = run_grid(*args, CFG, progress=False)
    assert calls == ["xai_dbpd"] and third.attrs["executed"] == ["xai_dbpd_seed0"]
    pd.testing.assert_frame_equal(_stable(third), _stable(first))
    assert third["wall_seconds"].tolist() == first["wall_seconds"].tolist()   # resumed from last.pt: same history

    # a run folder removed entirely is retrained from scratch, and gives the same numbers (seeded)
    import shutil
    shutil.rmtree(tmp_path / "full_seed0")
    calls.clear()
    fourth = run_grid(*args, CFG, progress=False)
    assert calls == ["full"]
    pd.testing.assert_frame_equal(_stable(fourth), _stable(first))


def test_run_grid_refuses_a_folder_holding_other_settings(tiny_data, tmp_path):
    run_grid(tiny_data, ["full"], [0], "small_cnn", 1, tmp_path, CFG, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        run_grid(tiny_data, ["full"], [0], "small_cnn", 1, tmp_path, {**CFG, "lr": 5e-4}, progress=False)
    df = run_grid(tiny_data, ["full"], [0], "small_cnn", 1, tmp_path, {**CFG, "lr": 5e-4}, progress=False,
                  on_mismatch="overwrite")
    assert df.attrs["executed"] == ["full_seed0"]


def test_filter_drop_rates_by_true_class_count_clean_candidates_only():
    import pandas as pd

    from erts_kit.results import filter_precision_recall

    log = pd.DataFrame({"epoch": [3] * 6, "index": [0, 1, 2, 3, 4, 5],
                        "decision": ["DROPPED_LOW_FOCUS", "KEPT", "DROPPED_LOW_FOCUS", "RESCUED",
                                     "DROPPED_LOW_FOCUS", "DROPPED_CONFIDENT"]})
    meta = pd.DataFrame({"corrupted": [False, False, False, False, True, False],
                         "class_true": ["PVC", "PVC", "AF", "AF", "AF", "AF"],
                         "evidence_kind": ["local", "local", "diffuse", "diffuse", "diffuse", "diffuse"]})
    by_class = filter_precision_recall(log, meta)["by_class"]
    # PVC: 2 clean candidates, 1 dropped. AF: clean candidates are rows 2 and 3 (row 4 is corrupted,
    # row 5 was not a candidate), 1 dropped.
    assert by_class["PVC (local)"] == {"n_candidates": 2, "n_dropped": 1, "drop_rate": 0.5}
    assert by_class["AF (diffuse)"] == {"n_candidates": 2, "n_dropped": 1, "drop_rate": 0.5}
