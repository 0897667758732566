"""Auxiliary per-sample features: from ECGData through the Dataset, the models, Grad-CAM, the scorer and train()."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures_wfdb import make_mitbih_beats_tree

from erts_kit.data.dataset import ECGData, ECGDataset
from erts_kit.data.mitbih import load_mitbih
from erts_kit.explain import gradcam, gradcam_and_logits
from erts_kit.models import build_model, list_models
from erts_kit.models.inference import logits_no_grad
from erts_kit.selection.base import BatchInfo
from erts_kit.selection.scoring import ModelBatchScorer
from erts_kit.training import TrainConfig, check_compatible, evaluate, train


def _data(n=8, f=3, aux=True, **kw) -> ECGData:
    rng = np.random.default_rng(0)
    return ECGData(rng.standard_normal((n, 1, 64)).astype(np.float32), np.arange(n) % 2, ["a", "b"], 100,
                   aux=rng.standard_normal((n, f)).astype(np.float32) if aux else None,
                   splits={"train": np.arange(n // 2), "val": np.arange(n // 2, n)}, **kw)


def test_ecgdata_checks_aux_and_carries_it_through_subset_and_describe():
    d = _data(aux_names=["p", "q", "r"])
    assert d.n_aux == 3 and d.describe()["aux"] == ["p", "q", "r"]
    sub = d.subset(np.array([5, 1]))
    np.testing.assert_array_equal(sub.aux, d.aux[[5, 1]])
    assert sub.aux_names == ["p", "q", "r"]
    with pytest.raises(ValueError, match=r"Expected aux of shape \(8, F\)"):
        ECGData(d.signals, d.labels, ["a", "b"], 100, aux=np.zeros((7, 2)))
    bad = d.aux.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN/inf in 1 sample\(s\) \(indices 3\)"):
        ECGData(d.signals, d.labels, ["a", "b"], 100, aux=bad)
    with pytest.raises(ValueError, match="Expected 3 aux_names"):
        ECGData(d.signals, d.labels, ["a", "b"], 100, aux=d.aux, aux_names=["p"])


def test_dataset_items_have_aux_only_when_the_data_has_it():
    assert len(ECGDataset(_data(aux=False))[0]) == 3
    x, y, idx, aux = ECGDataset(_data())[5]
    assert idx == 5 and aux.dtype == torch.float32
    np.testing.assert_array_equal(aux.numpy(), _data().aux[5])


@pytest.mark.parametrize("name", list_models())
def test_every_model_fuses_aux_in_the_head_and_keeps_the_trunk_signal_only(name):
    torch.manual_seed(0)
    m = build_model(name, n_leads=2, n_classes=3, n_aux=2).eval()
    x = torch.randn(2, 2, 128)
    a1, a2 = torch.zeros(2, 2), torch.full((2, 2), 3.0)
    out = m(x, a1)
    assert out.shape == (2, 3) and not torch.allclose(out, m(x, a2))          # aux reaches the logits
    torch.testing.assert_close(out, m.forward_head(m.forward_features(x), a1))
    assert m.forward_features(x).shape == build_model(name, 2, 3).forward_features(x).shape


def test_aux_mismatches_raise_clear_errors():
    x = torch.randn(2, 1, 64)
    with_aux, plain = build_model("small_cnn", 1, 2, n_aux=3), build_model("small_cnn", 1, 2)
    with pytest.raises(ValueError, match="built for 3 aux features per sample, got none"):
        with_aux(x)
    with pytest.raises(ValueError, match=r"built without aux features \(n_aux=0\).*n_aux=3"):
        plain(x, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"Expected aux of shape \(2, 3\)"):
        with_aux(x, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="Aux mismatch: the data has 3 aux features"):
        check_compatible(plain, _data(), "ce", torch.device("cpu"))
    with pytest.raises(ValueError, match="Aux mismatch: the model takes 3 aux features per sample, the data has none"):
        check_compatible(with_aux, _data(aux=False), "ce", torch.device("cpu"))


def test_gradcam_with_aux_matches_captum_and_depends_on_aux_through_the_head():
    torch.manual_seed(0)
    m = build_model("small_cnn", 1, 3, n_aux=2)
    x, aux, t = torch.randn(4, 1, 80), torch.randn(4, 2), torch.tensor([0, 1, 2, 0])
    fast = gradcam(m, x, t, relu=False, aux=aux)
    torch.testing.assert_close(fast, gradcam(m, x, t, relu=False, engine="captum", aux=aux), atol=1e-5, rtol=1e-4)
    assert fast.shape == (4, 10)                                         # the map stays on the signal (T / 8)
    maps, logits = gradcam_and_logits(m, x, t, aux=aux)
    torch.testing.assert_close(logits, logits_no_grad(m.eval(), x, aux=aux), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="got none"):
        gradcam(m, x, t)


def test_scorer_passes_batch_aux_to_both_passes():
    torch.manual_seed(0)
    m = build_model("small_cnn", 1, 2, n_aux=2).eval()
    x, y, aux = torch.randn(6, 1, 64), torch.tensor([0, 1, 0, 1, 0, 1]), torch.randn(6, 2)
    want = torch.softmax(m(x, aux), 1)[torch.arange(6), y]
    plain = ModelBatchScorer(m, BatchInfo(x=x, y=y, indices=torch.arange(6), step=0, aux=aux))
    torch.testing.assert_close(plain.p_true(), want, atol=1e-5, rtol=1e-4)
    shared = ModelBatchScorer(m, BatchInfo(x=x, y=y, indices=torch.arange(6), step=0, aux=aux))
    shared.expect_focus()
    torch.testing.assert_close(shared.p_true(), want, atol=1e-5, rtol=1e-4)
    assert shared.focus(torch.tensor([0, 3])).shape == (2,)
    assert plain.focus(torch.tensor([1])).shape == (1,)                 # Grad-CAM of the candidates only


def test_train_and_evaluate_feed_aux_under_every_kind_of_policy():
    from erts_kit.selection import make_policy
    d = _data(n=40, f=2)
    torch.manual_seed(0)
    res = train(build_model("small_cnn", 1, 2, n_aux=2), d, make_policy("xai_dbpd", warm_up=1, cam_start=0, tau=1.0),
                TrainConfig(epochs=2, batch_size=8), progress=False)
    assert res.history["kept_frac"].iloc[-1] < 1.0 and evaluate(res.model, d, "val")["probabilities"].shape == (20, 2)


def test_a_model_seeing_only_rr_features_learns_the_prematurity_rule(tmp_path):
    """S beats have the N shape and differ only by coming early: with the signals zeroed, the aux RR
    features alone must separate them; without aux the same model cannot beat the majority class."""
    tree = make_mitbih_beats_tree(tmp_path, ["101", "106", "108", "109", "112", "114"], seconds=120, seed=3,
                                  shares={"N": 0.75, "S": 0.25})
    d = load_mitbih(tree, context="rr", fs=120, val_records=["114"], test_records=[])
    d.signals = np.zeros_like(d.signals)
    s = d.class_names.index("S")
    assert d.aux_names == ["pre_rr_rel", "post_rr_rel", "local_rr_rel", "record_rr"]
    recalls = {}
    for n_aux in (4, 0):
        data = d if n_aux else d.subset(np.arange(d.n_samples))
        if not n_aux:
            data.aux, data.aux_names, data.splits = None, None, d.splits
        torch.manual_seed(0)
        res = train(build_model("small_cnn", 1, 5, n_aux=n_aux, width=8), data, None,
                    TrainConfig(epochs=8, batch_size=32, lr=3e-3), progress=False)
        out = evaluate(res.model, data, "val")
        pred = out["probabilities"].argmax(1)
        recalls[n_aux] = float((pred[out["labels"] == s] == s).mean())
        if n_aux:
            assert float((pred == out["labels"]).mean()) > 0.95
    assert recalls[4] > 0.9 and recalls[0] < 0.1
