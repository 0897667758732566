"""Paired statistics, the detector benchmark's metrics and corruption injection, on hand-made inputs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from erts_kit.data import ECGData
from erts_kit.data.corrupt import inject_corruption
from erts_kit.results.detect_signals import ORIENTATION, oriented
from erts_kit.results.detectors import auroc_interval, detector_table, detector_verdicts, precision_at_rate
from erts_kit.results.stats import paired_differences, paired_interval, paired_table, verdict


# -- paired statistics ----------------------------------------------------------------------------
def test_paired_t_interval_matches_the_hand_computation():
    d = [0.01, -0.02, 0.03, 0.00]
    r = paired_interval(d, n_boot=2000)
    mean, sd = np.mean(d), np.std(d, ddof=1)
    half = 3.182446305284263 * sd / math.sqrt(4)          # t(0.975, df=3)
    assert r["mean"] == pytest.approx(mean) and r["t_low"] == pytest.approx(mean - half)
    assert r["t_high"] == pytest.approx(mean + half)
    assert min(d) <= r["boot_low"] <= mean <= r["boot_high"] <= max(d)
    assert math.isnan(paired_interval([0.1])["t_low"])
    assert paired_interval([0.02, 0.02])["t_low"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="finite"):
        paired_interval([0.1, float("nan")])


def test_runs_are_paired_by_seed_and_unpaired_seeds_left_out():
    df = pd.DataFrame({"policy": ["full"] * 3 + ["x"] * 2, "seed": [1, 2, 3, 3, 1],
                       "macro_f1": [0.8, 0.9, 0.7, 0.75, 0.7], "wall_seconds": [10.0, 10, 20, 10, 5],
                       "compute_equivalent_epochs": [10.0, 10, 10, 5, 5]})
    t = paired_differences(df, n_boot=0).iloc[0]
    assert t["seeds"] == [1, 3] and t["n_pairs"] == 2
    assert t["diff_mean"] == pytest.approx(((0.7 - 0.8) + (0.75 - 0.7)) / 2)   # seed 1 with seed 1, 3 with 3
    assert t["wall_ratio"] == pytest.approx((0.5 + 0.5) / 2) and t["ce_ratio"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="baseline policy 'dbpd'"):
        paired_differences(df, baseline="dbpd")
    assert paired_table(paired_differences(df, n_boot=0)).shape == (1, 7)


def test_verdict_needs_both_the_interval_and_the_wall_clock():
    base = {"policy": "x", "n_pairs": 5, "seeds": [1], "diff_mean": 0.0, "boot_low": 0, "boot_high": 0,
            "wall_ratio_min": 0.5, "wall_ratio_max": 0.5, "ce_ratio": 0.5}
    ok = pd.DataFrame([{**base, "t_low": -0.009, "t_high": 0.01, "wall_ratio": 0.6}])
    slow = pd.DataFrame([{**base, "t_low": -0.009, "t_high": 0.01, "wall_ratio": 0.61}])
    lossy = pd.DataFrame([{**base, "t_low": -0.011, "t_high": 0.01, "wall_ratio": 0.5}])
    assert "MEETS" in verdict(ok)[0] and "wall-clock" in verdict(slow)[0] and "accuracy" in verdict(lossy)[0]


# -- detector metrics -----------------------------------------------------------------------------
def _meta(n=40, seed=0):
    rng = np.random.default_rng(seed)
    corrupted = np.zeros(n, bool)
    corrupted[rng.choice(n, 10, replace=False)] = True
    kind = np.where(corrupted, np.array(["flip", "muscle"])[np.arange(n) % 2], "none")
    return pd.DataFrame({"corrupted": corrupted, "flipped": kind == "flip",
                         "artifact_kind": np.where(kind == "muscle", "muscle", "none"),
                         "class_true": np.array(["A", "B"])[rng.integers(0, 2, n)]})


def test_a_planted_detector_has_auroc_one_everywhere_and_its_reverse_zero():
    meta = _meta()
    planted = meta["corrupted"].astype(float) + np.linspace(0, 0.5, len(meta))
    t = detector_table(pd.DataFrame({"planted": planted, "reversed": -planted}), meta)
    p = t[t["signal"] == "planted"]
    assert (p["auroc"] == 1.0).all() and (p["precision_at_rate"].dropna() == 1.0).all()
    assert set(p["group"]) >= {"all", "kind=flipped", "kind=muscle", "class=A", "class=B"}
    assert (t[t["signal"] == "reversed"]["auroc"] == 0.0).all()
    assert "beats chance" in detector_verdicts(t)[0] and "WORSE" in detector_verdicts(t)[1]


def test_auroc_and_precision_at_rate_on_hand_made_scores():
    a, lo, hi, p = auroc_interval([0.9, 0.4, 0.5, 0.1], [True, True, False, False])
    assert a == 0.75 and lo <= a <= hi                   # 3 of the 4 (corrupted, clean) pairs ranked right
    assert precision_at_rate([0.9, 0.4, 0.5, 0.1], [True, True, False, False]) == 0.5
    assert math.isnan(auroc_interval([1.0, 2.0], [True, True])[0])
    with pytest.raises(ValueError, match="finite"):
        auroc_interval([float("nan"), 1.0], [True, False])
    with pytest.raises(ValueError, match="corrupted"):
        detector_table(pd.DataFrame({"s": [1.0]}), pd.DataFrame({"x": [1]}))


def test_signals_are_oriented_as_their_methods_read_them():
    raw = pd.DataFrame({"loss": [2.0], "margin": [1.0], "aum": [0.5], "erts_combined": [0.3], "p_true": [0.9]})
    o = oriented(raw)
    assert o.iloc[0].to_dict() == {"loss": 2.0, "margin": -1.0, "aum": -0.5, "erts_combined": -0.3}
    assert ORIENTATION["focus_topk_mean"] == -1   # ERTS drops low focus: low focus = suspect


# -- injected corruption on real-like signals ------------------------------------------------------
def _real_like(n=50):
    x = np.sin(np.linspace(0, 20, 200))[None, None, :].repeat(n, 0).astype(np.float32)
    return ECGData(x, np.arange(n) % 3, ["N", "S", "V"], fs=360.0, lead_names=["MLII"],
                   splits={"train": np.arange(40), "val": np.arange(40, 50)})


def test_inject_corruption_records_a_ground_truth_in_the_split_only():
    d = _real_like()
    c = inject_corruption(d, 0.2, 0.25, seed=3)
    m = c.meta
    assert int(m["flipped"].sum()) == 8 and int(m["artifact"].sum()) == 10
    assert not m.loc[40:, "corrupted"].any()                          # val untouched
    assert (c.labels[m["flipped"]] != d.labels[m["flipped"]]).all()
    assert (c.labels[~m["flipped"]] == d.labels[~m["flipped"]]).all()
    assert (m["label_true"] == d.labels).all() and (m["corrupted"] == (m["flipped"] | m["artifact"])).all()
    hit = m["artifact"].to_numpy()
    clean = inject_corruption(d, 0.0, 0.0, seed=3).signals
    assert not np.allclose(c.signals[hit], clean[hit])              # artefacts changed those signals
    assert np.allclose(c.signals[~hit], clean[~hit])
    assert np.array_equal(inject_corruption(d, 0.2, 0.25, seed=3).signals, c.signals)   # seeded
    with pytest.raises(ValueError, match="label_flip_rate"):
        inject_corruption(d, 1.5)
