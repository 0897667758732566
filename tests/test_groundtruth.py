"""Ground-truth study: overlap by hand, separation AUROC by hand, a tiny end-to-end run, and its plots."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from erts_kit.data.dataset import ECGData
from erts_kit.explain.groundtruth import (
    evidence_overlap,
    ground_truth_study,
    separation_table,
)
from erts_kit.models.base import ECGModel
from erts_kit.viz.explain import plot_focus_hist, plot_separation


class Lead0Detector(ECGModel):
    """Identity cam layer; class 1 logit = mean of lead 0, class 0 logit = 0: the map of class 1 is x[0] / T."""

    cam_layer_name = "feat"

    def __init__(self) -> None:
        super().__init__(n_leads=2, n_classes=2)
        self.feat = nn.Identity()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))

    def forward_features(self, x):
        return self.feat(x)

    def forward_head(self, a):
        return self.fc(a.mean(-1))


def test_evidence_overlap_by_hand():
    peak = torch.zeros(1, 10)
    peak[0, 4] = 2.0
    mask = np.zeros((1, 10), bool)
    mask[0, 3:6] = True
    assert evidence_overlap(peak, mask).tolist() == [1.0]  # mask covers the whole peak
    assert evidence_overlap(peak, ~mask).tolist() == [0.0]
    half = torch.tensor([[1.0, 1.0, -4.0, 0.0]])  # negative part ignored; half the mass inside
    assert evidence_overlap(half, np.array([[True, False, True, True]])).tolist() == [0.5]
    out = evidence_overlap(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), np.array([[True, False], [False, False]]))
    assert out[0] == 0.0 and np.isnan(out[1])  # zero mass -> 0.0, empty mask -> NaN
    with pytest.raises(ValueError, match="upsample=True"):
        evidence_overlap(torch.ones(1, 5), np.ones((1, 10), bool))
    with pytest.raises(TypeError, match="bool"):
        evidence_overlap(torch.ones(1, 5), np.ones((1, 5)))


def test_separation_table_by_hand():
    t = pd.DataFrame({"checkpoint": ["a"] * 5,
                      "corrupted": [False, False, True, True, True],
                      "artifact": [False, False, True, False, True],
                      "flipped": [False, False, False, True, True],
                      "s": [0.9, 0.5, 0.1, 0.7, 0.95]})
    sep = separation_table(t, ["s"], baselines=()).set_index("contrast")
    # clean {0.9, 0.5} vs corrupted {0.1, 0.7, 0.95}: pairs won 2 + 1 + 0 of 6
    assert sep.loc["corrupted", "auroc"] == pytest.approx(3 / 6)
    assert sep.loc["artifact_only", "auroc"] == pytest.approx(1.0)  # only 0.1 (sample 4 is both)
    assert sep.loc["flip_only", "auroc"] == pytest.approx(0.5)  # 0.7: beaten by 0.9, beats 0.5
    assert sep.loc["corrupted", "n_corrupted"] == 3 and sep.loc["flip_only", "n_clean"] == 2
    t2 = t.assign(flipped=False, corrupted=t["artifact"])
    assert np.isnan(separation_table(t2, ["s"], baselines=()).set_index("contrast").loc["flip_only", "auroc"])


def _hand_data() -> ECGData:
    """4 samples, 2 leads, T = 8. Lead 0 carries a bump inside the evidence mask for samples 0-1 (clean)
    and outside it for sample 2 (artefact); sample 3 is a flipped label whose bump sits in the mask."""
    x = np.zeros((4, 2, 8), np.float32)
    x[:, 1] = 5.0  # lead 1 is ignored by the model
    x[0, 0, 2] = 4.0
    x[1, 0, 2:4] = 1.0
    x[2, 0, 6] = 3.0
    x[3, 0, 3] = 2.0
    mask = np.zeros((4, 8), bool)
    mask[:, 1:5] = True
    meta = pd.DataFrame({"label_true": [1, 1, 1, 0], "flipped": [False, False, False, True],
                         "artifact": [False, False, True, False],
                         "artifact_kind": ["none", "none", "muscle", "none"],
                         "corrupted": [False, False, True, True],
                         "evidence_kind": ["local", "local", "local", "none"]})
    return ECGData(x, np.array([1, 1, 1, 1]), ["N", "V"], fs=8.0, meta=meta, evidence_mask=mask)


def test_ground_truth_study_end_to_end_by_hand():
    data = _hand_data()
    res = ground_truth_study({"hand": Lead0Detector()}, data, batch_size=3)
    s = res["samples"]
    assert list(s["index"]) == [0, 1, 2, 3]
    assert list(s["class_name"]) == ["V"] * 4
    assert list(s["artifact_kind"]) == ["none", "none", "muscle", "none"]
    # map of class 1 = lead 0 / 8, so the spike sample has topk_mean 1 (W = 8 -> k = 1)
    assert s["topk_mean"].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert s.loc[0, "top_mass_share"] == pytest.approx(1.0)
    assert s.loc[1, "top_mass_share"] == pytest.approx(0.5)
    # mass in evidence: bumps of 0, 1, 3 are in the mask [1, 5); sample 2's bump at 6 is outside.
    # Linear upsampling W -> T is the identity here (the layer keeps T), so the shares are exact.
    assert s["mass_in_evidence"].tolist() == pytest.approx([1.0, 1.0, 0.0, 1.0])
    # p_true = softmax([0, mean(lead0)])[1]
    assert s.loc[0, "p_true"] == pytest.approx(1 / (1 + np.exp(-0.5)))
    sep = res["separation"].set_index(["score", "contrast"])
    # clean {1.0, 0.5} vs artefact {1.0}: one tie (0.5) and one loss (0) of 2 pairs
    assert sep.loc[("top_mass_share", "artifact_only"), "auroc"] == pytest.approx(0.25)
    by_class = res["by_class"]
    assert len(by_class) == 1 and by_class.loc[0, "n"] == 2  # clean samples only
    assert by_class.loc[0, "mass_in_evidence"] == pytest.approx(1.0)


def test_ground_truth_study_on_synthetic_with_two_checkpoints():
    from erts_kit.data.synthetic import make_synthetic
    from erts_kit.models import build_model

    data = make_synthetic(n_samples=24, n_leads=2, duration_s=4.0, seed=3, label_flip_rate=0.25,
                          artifact_rate=0.25, corrupt="all")
    torch.manual_seed(0)
    m1 = build_model("small_cnn", n_leads=2, n_classes=data.n_classes)
    m2 = build_model("small_cnn", n_leads=2, n_classes=data.n_classes)
    res = ground_truth_study({"seed a": m1, "seed b": m2}, data, indices=np.arange(20), batch_size=8)
    s = res["samples"]
    assert len(s) == 40 and list(s["checkpoint"].cat.categories) == ["seed a", "seed b"]
    for col in ("topk_mean", "top_mass_share", "one_minus_entropy", "p_true"):
        assert s[col].between(0, 1).all()
    # NORM has an empty evidence mask: overlap is undefined there, defined everywhere else
    norm = s["evidence_kind"] == "none"
    assert s.loc[norm, "mass_in_evidence"].isna().all()
    assert s.loc[~norm, "mass_in_evidence"].between(0, 1).all()
    assert s["corrupted"].any() and (~s["corrupted"]).any()
    sep = res["separation"]
    assert set(sep["contrast"]) == {"corrupted", "artifact_only", "flip_only"}
    assert len(sep) == 2 * 4 * 3  # checkpoints x (3 scores + p_true) x contrasts
    assert sep.loc[sep["contrast"] == "corrupted", "auroc"].between(0, 1).all()
    assert set(res["by_class"]["evidence_kind"]) <= {"local", "diffuse", "none"}

    ax = plot_focus_hist(s, by="artifact_kind", score="top_mass_share", checkpoint="seed a")
    assert ax.get_title().endswith("seed a") and len(ax.get_legend().get_texts()) == s["artifact_kind"][:20].nunique()
    ax2 = plot_separation(sep)
    assert len(ax2.patches) == 4 * 2 * 3
    plt.close("all")


def test_ground_truth_study_input_errors():
    data = _hand_data()
    with pytest.raises(ValueError, match="Unknown focus score"):
        ground_truth_study({"m": Lead0Detector()}, data, scores=("nope",))
    with pytest.raises(TypeError, match="non-empty dict"):
        ground_truth_study([Lead0Detector()], data)
    with pytest.raises(ValueError, match=r"indices in \[0, 3\]"):
        ground_truth_study({"m": Lead0Detector()}, data, indices=[0, 9])
    with pytest.raises(ValueError, match="by"):
        plot_focus_hist(pd.DataFrame({"checkpoint": ["a"], "topk_mean": [0.1]}), by="colour")


def test_cam_plots_delegate_to_viz_ecg():
    from erts_kit.viz.explain import plot_cam, plot_cam_grid, plot_sample_cam

    data = _hand_data()
    ax = plot_sample_cam(Lead0Detector(), data, 2)
    assert "Grad-CAM for V" in ax.get_title(loc="left") + ax.get_title()
    fig = plot_sample_cam(Lead0Detector(), data, 0, grid=True)
    assert len(fig.axes) >= 2
    assert plot_cam(data.signals[0], torch.arange(4.0), fs=8.0, lead=1) is not None
    assert plot_cam_grid(data.signals[0], np.arange(4.0), fs=8.0, lead_names=["a", "b"]) is not None
    with pytest.raises(ValueError, match=r"index in \[0, 3\]"):
        plot_sample_cam(Lead0Detector(), data, 4)
    plt.close("all")
