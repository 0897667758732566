"""run_paired_grid: variants, default annealing, seed-major order, folds, resume; average_folds; parse_variant."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from erts_kit.data import load_dataset
from erts_kit.results import average_folds, paired_differences, parse_variant, run_paired_grid

CFG = {"device": "cpu", "batch_size": 16, "warm_up": 1, "prune_ratio": 0.5}


def test_parse_variant_reads_settings_as_yaml_and_labels_them():
    assert parse_variant(" full ") == ("full", "full", {})
    label, policy, extra = parse_variant("noise_aware:drop_share=0.2,start_revision=null,warm_up=1")
    assert (label, policy) == ("noise_aware[drop_share=0.2,start_revision=null,warm_up=1]", "noise_aware")
    assert extra == {"drop_share": 0.2, "start_revision": None, "warm_up": 1}
    with pytest.raises(ValueError, match="key=value"):
        parse_variant("infobatch:prune_ratio")


@pytest.fixture(scope="module")
def two_folds():
    a = load_dataset("synthetic", n_samples=48, n_leads=1, duration_s=3.0, seed=0)
    b = load_dataset("synthetic", n_samples=48, n_leads=1, duration_s=3.0, seed=1)
    return [a, b]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_run_paired_grid_runs_seed_by_seed_over_folds_and_resumes(two_folds, tmp_path):
    seen = []
    policies = ["full", "infobatch", "infobatch:prune_ratio=0.8,start_revision=null"]
    df = run_paired_grid(two_folds, policies, [0, 1], "small_cnn", 3, tmp_path, CFG,
                         on_seed=lambda t: seen.append(t[["policy", "seed", "fold"]].copy()))
    assert len(df) == 3 * 2 * 2
    # seed-major: every run of seed 0 (all policies, all folds) comes before any run of seed 1
    assert df["seed"].tolist() == [0] * 6 + [1] * 6
    assert df["fold"].tolist()[:6] == [0, 1, 0, 1, 0, 1]
    assert [len(t) for t in seen] == [6, 12]
    assert df["cpu_seconds"].gt(0).all()
    # annealing by default (last 12.5% of 3 epochs = the last epoch), none when the variant says so
    plain = json.loads((tmp_path / "fold0" / "infobatch" / "infobatch_seed0" / "settings.json").read_text())
    variant_dir = tmp_path / "fold1" / "infobatch[prune_ratio=0.8,start_revision=null]" / "infobatch_seed1"
    variant = json.loads((variant_dir / "settings.json").read_text())
    assert plain["policy"]["start_revision"] == 2 and plain["policy"]["prune_ratio"] == 0.5
    assert variant["policy"]["start_revision"] is None and variant["policy"]["prune_ratio"] == 0.8
    # the variant trains fewer samples than the plain policy: it prunes more and never anneals
    ee = df.groupby("policy")["effective_epochs"].mean()
    labels = [parse_variant(p)[0] for p in policies]
    assert ee["full"] == 3.0 and ee[labels[2]] < ee["infobatch"] < 3.0
    # a second call reuses every run: same scores, no CPU time of its own
    again = run_paired_grid(two_folds, policies, [0, 1], "small_cnn", 3, tmp_path, CFG)
    assert np.allclose(again["macro_f1"], df["macro_f1"]) and again["cpu_seconds"].isna().all()
    paired = paired_differences(average_folds(df))
    assert paired["policy"].tolist() == labels[1:] and (paired["n_pairs"] == 2).all()


def test_run_paired_grid_refuses_no_data_and_bad_variants_before_training(tmp_path, two_folds):
    with pytest.raises(ValueError, match="at least one dataset"):
        run_paired_grid([], ["full"], [0], "small_cnn", 1, tmp_path, CFG)
    with pytest.raises(ValueError, match="key=value"):
        run_paired_grid(two_folds, ["full", "infobatch:oops"], [0], "small_cnn", 1, tmp_path, CFG)
    assert not any(tmp_path.iterdir())


def test_average_folds_means_scores_and_sums_clocks_keeping_unknown_costs_unknown():
    df = pd.DataFrame({"policy": ["full", "full", "dbpd", "dbpd"], "seed": [3, 3, 3, 3], "fold": [0, 1, 0, 1],
                       "macro_f1": [0.2, 0.4, 0.1, 0.5], "wall_seconds": [10.0, 20.0, 4.0, 6.0],
                       "cpu_seconds": [1.0, 2.0, np.nan, 3.0], "compute_equivalent_epochs": [6.0, 6.0, 3.0, 4.0]})
    out = average_folds(df).set_index("policy")
    assert out.loc["full", "macro_f1"] == pytest.approx(0.3) and out.loc["dbpd", "macro_f1"] == pytest.approx(0.3)
    assert out.loc["full", "wall_seconds"] == 30.0 and out.loc["dbpd", "wall_seconds"] == 10.0
    assert out.loc["full", "cpu_seconds"] == 3.0 and np.isnan(out.loc["dbpd", "cpu_seconds"])
    assert out.loc["dbpd", "compute_equivalent_epochs"] == 3.5 and (out["n_folds"] == 2).all()
    one = average_folds(df.drop(columns="fold").iloc[:1])
    assert one["n_folds"].tolist() == [1] and one["macro_f1"].tolist() == [0.2]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_default_annealing_never_starts_before_warm_up_so_a_short_run_is_not_refused(two_folds, tmp_path):
    df = run_paired_grid(two_folds[0], ["noise_aware"], [0], "small_cnn", 1, tmp_path, dict(CFG, warm_up=2))
    settings = json.loads((tmp_path / "fold0" / "noise_aware" / "noise_aware_seed0" / "settings.json").read_text())
    assert settings["policy"]["start_revision"] == 2 and df["effective_epochs"].tolist() == [1.0]
