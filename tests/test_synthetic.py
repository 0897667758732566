"""Tests of the embedded synthetic ECG benchmark (erts_kit.data.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from torch import nn

from erts_kit.data.synthetic import (
    ARTIFACT_KINDS,
    CLASS_EVIDENCE,
    SYNTHETIC_CLASSES,
    make_synthetic,
    stratified_split,
)
from erts_kit.data.synthetic_beats import PAC, PVC, make_rhythm


def _runs(mask: np.ndarray) -> int:
    """Number of contiguous True runs in a 1-D bool array."""
    m = mask.astype(np.int8)
    return int((np.diff(np.r_[0, m]) == 1).sum())


@pytest.fixture(scope="module")
def small():
    return make_synthetic(n_samples=120, seed=3)


def test_classes_and_evidence_kinds():
    assert len(SYNTHETIC_CLASSES) >= 5
    assert set(CLASS_EVIDENCE) == set(SYNTHETIC_CLASSES)
    kinds = set(CLASS_EVIDENCE.values())
    assert {"local", "diffuse", "none"} <= kinds
    assert CLASS_EVIDENCE["PVC"] == "local" and CLASS_EVIDENCE["AF"] == "diffuse"


def test_default_shape_is_ptbxl_like(small):
    assert small.signals.shape == (120, 12, 1000)
    assert small.signals.dtype == np.float32
    assert small.lead_names == ["I", "II", "III", "aVR", "aVL", "aVF",
                                "V1", "V2", "V3", "V4", "V5", "V6"]
    assert small.fs == 100.0 and small.class_names == SYNTHETIC_CLASSES
    # Balanced classes, 70/15/15 stratified splits covering every sample once.
    assert small.class_counts().tolist() == [20] * 6
    sizes = {k: len(v) for k, v in small.splits.items()}
    assert sizes == {"train": 84, "val": 18, "test": 18}
    assert np.array_equal(np.sort(np.concatenate(list(small.splits.values()))), np.arange(120))
    for idx in small.splits.values():
        assert np.bincount(small.meta.label_true.to_numpy()[idx], minlength=6).tolist() == [len(idx) // 6] * 6
    # Amplitudes in mV: QRS of order 1 mV, nothing absurd.
    assert 0.5 < np.abs(small.signals).max() < 6.0


def test_same_seed_same_bytes_different_seed_differs():
    a = make_synthetic(n_samples=20, seed=5, label_flip_rate=0.2, artifact_rate=0.3)
    b = make_synthetic(n_samples=20, seed=5, label_flip_rate=0.2, artifact_rate=0.3)
    c = make_synthetic(n_samples=20, seed=6, label_flip_rate=0.2, artifact_rate=0.3)
    assert a.signals.tobytes() == b.signals.tobytes()
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.evidence_mask, b.evidence_mask)
    assert a.meta.equals(b.meta)
    assert a.signals.tobytes() != c.signals.tobytes()


@pytest.mark.parametrize("n_leads,names", [(1, ["II"]), (2, ["MLII", "V1"]), (12, None)])
@pytest.mark.parametrize("fs", [100, 250, 500])
def test_shapes_for_leads_and_rates(n_leads, names, fs):
    d = make_synthetic(n_samples=6, n_leads=n_leads, fs=fs, duration_s=4.0, seed=1)
    assert d.signals.shape == (6, n_leads, 4 * fs)
    assert d.evidence_mask.shape == (6, 4 * fs)
    if names:
        assert d.lead_names == names
    assert np.isfinite(d.signals).all()


def test_custom_leads_and_classes():
    d = make_synthetic(n_samples=9, n_leads=3, lead_names=["V1", "V5", "aVR"], classes=["NORM", "AF", "PVC"],
                       seed=0)
    assert d.lead_names == ["V1", "V5", "aVR"] and d.class_names == ["NORM", "AF", "PVC"]
    assert d.class_counts().tolist() == [3, 3, 3]
    assert set(d.meta.class_true) == {"NORM", "AF", "PVC"}


def test_limb_leads_obey_einthoven_and_avr_is_inverted():
    d = make_synthetic(n_samples=12, seed=2, noise_scale=0.0)
    x = d.signals.astype(np.float64)
    lead_i, lead_ii, lead_iii, avr = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    np.testing.assert_allclose(lead_iii, lead_ii - lead_i, atol=1e-5)
    np.testing.assert_allclose(avr, -(lead_i + lead_ii) / 2, atol=1e-5)
    # aVR looks at the heart from the right shoulder: anti-correlated with II in every record.
    corr = [np.corrcoef(avr[k], lead_ii[k])[0, 1] for k in range(len(x))]
    assert max(corr) < -0.3


def test_leads_differ_like_a_real_12_lead_ecg():
    """Dominant QRS deflection: upright in II and V5, negative in aVR and V1 (R-wave progression)."""
    d = make_synthetic(n_samples=40, seed=2, classes=["NORM"], noise_scale=0.0)
    x = d.signals
    peak = np.take_along_axis(x, np.abs(x).argmax(2)[..., None], 2)[..., 0]     # (N, leads), signed
    upright = (peak > 0).mean(0)
    names = d.lead_names
    assert upright[names.index("aVR")] == 0.0
    assert upright[names.index("V1")] <= 0.1
    assert upright[names.index("II")] >= 0.9 and upright[names.index("V5")] >= 0.9


def test_corruption_rates_are_honoured_and_recorded():
    d = make_synthetic(n_samples=400, seed=11, label_flip_rate=0.25, artifact_rate=0.2)
    m = d.meta
    train = d.split("train")
    assert m.flipped.sum() == round(0.25 * len(train)) == 70
    assert m.artifact.sum() == round(0.2 * len(train)) == 56
    # Only the train split is corrupted by default.
    assert set(np.flatnonzero(m.corrupted.to_numpy())) <= set(train.tolist())
    assert (m.corrupted == (m.flipped | m.artifact)).all()
    # Flipped labels differ from the truth, the others equal it; ECGData.labels are the observed ones.
    assert (m.label[m.flipped] != m.label_true[m.flipped]).all()
    assert (m.label[~m.flipped] == m.label_true[~m.flipped]).all()
    assert np.array_equal(d.labels, m.label.to_numpy())
    # Artefact kinds: 'none' exactly where there is no artefact, all five kinds used, balanced.
    assert ((m.artifact_kind == "none") == ~m.artifact).all()
    counts = m.artifact_kind[m.artifact].value_counts()
    assert set(counts.index) == set(ARTIFACT_KINDS) and counts.max() - counts.min() <= 1
    assert set(m.evidence_kind) == {"none", "local", "diffuse"}
    assert ((m.evidence_kind == "local") == m.class_true.isin(["PVC", "PAC"])).all()
    assert m.heart_rate.between(40, 180).all()


def test_corrupt_all_splits():
    d = make_synthetic(n_samples=200, seed=4, label_flip_rate=0.5, corrupt="all")
    assert d.meta.flipped.sum() == 100
    assert d.meta.flipped[d.split("test")].any() and d.meta.flipped[d.split("val")].any()


def test_evidence_masks_local_vs_diffuse(small):
    m, mask = small.meta, small.evidence_mask
    t = small.n_timesteps
    for cls in SYNTHETIC_CLASSES:
        rows = np.flatnonzero(m.class_true == cls)
        sums = mask[rows].sum(1)
        if CLASS_EVIDENCE[cls] == "none":
            assert (sums == 0).all(), cls
        else:
            assert (sums > 0).all(), cls
    pvc = np.flatnonzero(m.class_true == "PVC")
    af = np.flatnonzero(m.class_true == "AF")
    # PVC: one short span (0.52 s of 10 s) around the premature beat; AF: a span before every beat.
    assert all(_runs(mask[i]) == 1 and mask[i].sum() <= 0.06 * t for i in pvc)
    assert all(_runs(mask[i]) >= 6 and mask[i].sum() >= 0.15 * t for i in af)
    for i in pvc:
        ev = round(m.event_time_s[i] * small.fs)
        assert mask[i, ev] and not mask[i, ev + 60]


def test_pvc_is_premature_with_compensatory_pause_pac_resets():
    rng = np.random.default_rng(0)
    cls = np.array([SYNTHETIC_CLASSES.index("PVC")] * 50 + [SYNTHETIC_CLASSES.index("PAC")] * 50)
    r = make_rhythm(rng, cls, 10.0)
    for i in range(100):
        k = int(np.flatnonzero((r.kind[i] == PVC) | (r.kind[i] == PAC))[0])
        before, after = r.times[i, k] - r.times[i, k - 1], r.times[i, k + 1] - r.times[i, k]
        assert before < 0.8 * r.rr0[i]                       # premature
        if i < 50:   # PVC: the sinus beat after it comes on time -> before + after ~ 2 RR
            assert abs((before + after) / r.rr0[i] - 2.0) < 0.25
        else:        # PAC: the sinus node is reset -> after ~ 1 RR
            assert abs(after / r.rr0[i] - 1.0) < 0.15


def test_af_rr_is_irregular_and_sinus_regular():
    rng = np.random.default_rng(1)
    cls = np.array([SYNTHETIC_CLASSES.index("AF")] * 40 + [SYNTHETIC_CLASSES.index("NORM")] * 40)
    r = make_rhythm(rng, cls, 10.0)
    rr = np.diff(r.times[:, :12], axis=1)
    cv = rr.std(1) / rr.mean(1)
    assert cv[:40].min() > 0.08 and cv[40:].max() < 0.08


def test_flat_lead_artifact_is_really_flat():
    d = make_synthetic(n_samples=10, seed=0, artifact_rate=1.0, artifact_kinds=["flat_lead"], corrupt="all")
    assert (d.meta.artifact_kind == "flat_lead").all()
    flat = (np.ptp(d.signals, axis=2) == 0)                   # (N, leads)
    assert flat.any(1).all() and (flat.sum(1) <= 3).all()
    one = make_synthetic(n_samples=3, n_leads=1, seed=0, artifact_rate=1.0, artifact_kinds=["flat_lead"],
                         corrupt="all")
    assert (one.signals == 0).all()


def test_swapped_leads_is_an_arm_reversal_of_the_clean_record():
    clean = make_synthetic(n_samples=5, seed=9)
    swapped = make_synthetic(n_samples=5, seed=9, artifact_rate=1.0, artifact_kinds=["swapped_leads"],
                             corrupt="all")
    c, s = clean.signals, swapped.signals
    np.testing.assert_array_equal(s[:, 0], -c[:, 0])          # I inverted
    np.testing.assert_array_equal(s[:, 1], c[:, 2])           # II <-> III
    np.testing.assert_array_equal(s[:, 3], c[:, 4])           # aVR <-> aVL
    np.testing.assert_array_equal(s[:, 6:], c[:, 6:])         # chest leads untouched
    assert np.array_equal(clean.labels, swapped.labels)


def test_heavy_artifacts_change_the_signal_a_lot():
    clean = make_synthetic(n_samples=10, seed=9)
    for kind in ["baseline_wander", "muscle", "electrode_motion"]:
        bad = make_synthetic(n_samples=10, seed=9, artifact_rate=1.0, artifact_kinds=[kind], corrupt="all")
        diff = np.abs(bad.signals - clean.signals).max(axis=(1, 2))
        assert (diff > 0.3).all(), kind


@pytest.mark.parametrize("kwargs,error,match", [
    ({"fs": 50}, ValueError, "fs"),
    ({"fs": 1000}, ValueError, "fs"),
    ({"label_flip_rate": 1.5}, ValueError, "label_flip_rate"),
    ({"artifact_rate": -0.1}, ValueError, "artifact_rate"),
    ({"n_leads": 3}, ValueError, "n_leads"),
    ({"n_leads": 2, "lead_names": ["II", "V9"]}, ValueError, "V9"),
    ({"classes": ["NORM", "FOO"]}, ValueError, "FOO"),
    ({"classes": ["NORM"], "label_flip_rate": 0.1}, ValueError, "at least 2 classes"),
    ({"class_probs": [0.5, 0.5]}, ValueError, "class_probs"),
    ({"split_fractions": (0.5, 0.2, 0.2)}, ValueError, "split_fractions"),
    ({"artifact_kinds": ["static"]}, ValueError, "static"),
    ({"corrupt": "test"}, ValueError, "corrupt"),
    ({"duration_s": 1.0}, ValueError, "duration_s"),
    ({"seed": "a"}, TypeError, "seed"),
    ({"n_samples": 0}, ValueError, "n_samples"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_synthetic(**{"n_samples": 4, **kwargs})


def test_stratified_split_tiny_and_exact():
    s = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1, 2]), (0.5, 0.25, 0.25), seed=0)
    assert [len(s[k]) for k in ("train", "val", "test")] == [5, 2, 2]
    assert 8 in s["train"]                                   # a class of one goes to train


def test_small_cnn_learns_the_clean_task():
    """A tiny 1-D CNN trained for a few epochs on clean labels reaches macro-F1 >= 0.8 on held-out data."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # on a loaded 2-core box one thread is several times faster than two
    try:
        torch.manual_seed(0)
        d = make_synthetic(n_samples=900, n_leads=12, duration_s=5.0, seed=7)
        x = d.signals
        x = (x - x.mean(2, keepdims=True)) / (x.std(2, keepdims=True) + 1e-6)
        xs, ys = torch.from_numpy(x), torch.from_numpy(d.labels)
        train = d.split("train")
        held = np.concatenate([d.split("val"), d.split("test")])

        def block(c_in: int, c_out: int, k: int, stride: int, dil: int = 1) -> nn.Module:
            return nn.Sequential(nn.Conv1d(c_in, c_out, k, stride, padding=dil * (k // 2), dilation=dil),
                                 nn.BatchNorm1d(c_out), nn.ReLU())

        trunk = nn.Sequential(block(12, 16, 7, 2), block(16, 24, 5, 2), block(24, 32, 5, 2), block(32, 32, 5, 2),
                              block(32, 32, 3, 1, 2), block(32, 32, 3, 1, 4))
        head = nn.Linear(64, d.n_classes)
        params = list(trunk.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=3e-3)

        def forward(xb: torch.Tensor) -> torch.Tensor:
            z = trunk(xb)                                              # (B, 32, T/16)
            return head(torch.cat([z.mean(-1), z.amax(-1)], dim=1))   # avg + max pool: diffuse + local

        rng = np.random.default_rng(0)
        for _ in range(8):
            trunk.train()
            order = rng.permutation(train)
            for b in range(0, len(order), 32):
                i = order[b:b + 32]
                opt.zero_grad()
                nn.functional.cross_entropy(forward(xs[i]), ys[i]).backward()
                opt.step()
        trunk.eval()
        with torch.no_grad():
            pred = forward(xs[held]).argmax(1).numpy()
        score = f1_score(d.labels[held], pred, average="macro")
        assert score >= 0.8, f"macro-F1 {score:.3f}"
    finally:
        torch.set_num_threads(threads)
