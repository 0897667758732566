"""Policies on hand-built batches with stand-in scorers, and the model-backed scorer on a tiny CNN."""
from __future__ import annotations

import math

import pytest
import torch

from erts_kit.selection import (
    BatchInfo,
    CostLedger,
    DBPDPolicy,
    Decision,
    ERTSPolicy,
    FullPolicy,
    ModelBatchScorer,
    SMRDPolicy,
    SRDPolicy,
    list_policies,
    make_policy,
    paper_policy,
)

NAN = float("nan")
D = Decision
# p_true per batch position; DBPD(tau=0.3) candidates: positions 1, 2, 4, 5, 7
P = torch.tensor([0.9, 0.1, 0.2, 0.9, 0.0, 0.25, 0.9, 0.05])
# focus per batch position (only candidates are ever asked): combined 1:.45 2:.72 4:.30 5:.60 7:.57
F = torch.tensor([0.1, 0.5, 0.9, 0.1, 0.3, 0.8, 0.1, 0.6])


class StandInScorer:
    """Fixed p_true / focus; records every call."""

    def __init__(self, p_true=P, focus=F, pred_correct=None):
        self._p, self._f, self._ok = p_true, focus, pred_correct
        self.calls: list = []

    def p_true(self):
        self.calls.append("p_true")
        return self._p.clone()

    def focus(self, candidates):
        self.calls.append(("focus", candidates.tolist()))
        return self._f[candidates]

    def pred_correct(self):
        self.calls.append("pred_correct")
        return self._ok

    def expect_focus(self, name=None):
        self.calls.append(("expect_focus", name))


class RaisingScorer:
    def p_true(self):
        raise AssertionError("p_true must not be called")

    def focus(self, candidates):
        raise AssertionError("focus must not be called")


class MinimalScorer:
    """Only the BatchScorer protocol: no hint, no pred_correct."""

    def p_true(self):
        return P.clone()

    def focus(self, candidates):
        return F[candidates]


def batch(b=8, labels=None, step=0):
    y = torch.zeros(b, dtype=torch.long) if labels is None else torch.as_tensor(labels)
    return BatchInfo(x=torch.zeros(b, 1, 4), y=y, indices=torch.arange(100, 100 + b), step=step)


def decisions(sel):
    return [Decision(int(d)) for d in sel.decision]


# ---- schedule ----------------------------------------------------------------------------------------
def test_full_never_calls_the_scorer():
    pol = FullPolicy()
    for epoch in (0, 5, 50):
        sel = pol.select(epoch, batch(), RaisingScorer())
        assert sel.keep.all() and decisions(sel) == [D.FULL] * 8
        assert torch.isnan(sel.p_true).all()


@pytest.mark.parametrize("pol", [DBPDPolicy(), SMRDPolicy(), SRDPolicy(), make_policy("xai_dbpd")])
def test_warm_up_is_epochs_0_to_4_without_scoring(pol):
    for epoch in range(5):
        sel = pol.select(epoch, batch(), RaisingScorer())
        assert decisions(sel) == [D.WARMUP] * 8 and sel.keep.all()
    assert pol.select(5, batch(), StandInScorer()).decision.tolist() != [int(D.WARMUP)] * 8


def test_revision_epochs_use_every_sample():
    pol = make_policy("xai_dbpd", start_revision=9)
    assert decisions(pol.select(9, batch(), RaisingScorer())) == [D.REVISION] * 8
    assert decisions(pol.select(20, batch(), RaisingScorer())) == [D.REVISION] * 8
    assert D.KEPT in decisions(pol.select(8, batch(), StandInScorer()))


def test_needs_scoring_and_focus_schedule():
    pol = make_policy("xai_srd", start_revision=10)
    assert [pol.stage(e) for e in (0, 4, 5, 7, 8, 9, 10)] == [
        "warmup", "warmup", "select", "select", "filter", "filter", "revision"]
    assert [pol.needs_scoring(e) for e in (4, 5, 8, 10)] == [False, False, True, False]   # SRD: no scoring pass
    assert [pol.needs_focus(e) for e in (4, 7, 8, 10)] == [False, False, True, False]
    assert make_policy("dbpd").needs_scoring(5) and not make_policy("srd").needs_scoring(5)


# ---- PDD ----------------------------------------------------------------------------------------------
def test_dbpd_keeps_exactly_p_below_tau():
    sel = DBPDPolicy(tau=0.3).select(5, batch(), StandInScorer())
    assert sel.keep.nonzero().flatten().tolist() == [1, 2, 4, 5, 7]
    assert decisions(sel) == [D.DROPPED_CONFIDENT, D.KEPT, D.KEPT, D.DROPPED_CONFIDENT, D.KEPT, D.KEPT,
                              D.DROPPED_CONFIDENT, D.KEPT]
    assert torch.equal(sel.p_true, P) and torch.isnan(sel.focus).all()


def test_dbpd_tau_zero_uses_pred_correct():
    ok = torch.tensor([True, False, True, True, False, True, True, True])
    sel = DBPDPolicy(tau=0.0).select(5, batch(), StandInScorer(pred_correct=ok))
    assert sel.keep.nonzero().flatten().tolist() == [1, 4]
    with pytest.raises(TypeError, match="pred_correct"):
        DBPDPolicy(tau=0.0).select(5, batch(), MinimalScorer())


def test_smrd_keeps_dbpd_count_randomly_and_reproducibly():
    pol = SMRDPolicy(tau=0.3, seed=3)
    picks = [pol.select(6, batch(step=s), StandInScorer()).keep.nonzero().flatten().tolist() for s in range(20)]
    assert all(len(k) == 5 for k in picks)                             # DBPD would keep 5
    assert len({tuple(k) for k in picks}) > 1                          # random across steps
    again = SMRDPolicy(tau=0.3, seed=3).select(6, batch(step=7), StandInScorer())   # a "resumed" instance
    assert again.keep.nonzero().flatten().tolist() == picks[7]
    other_seed = [SMRDPolicy(seed=4).select(6, batch(step=s), StandInScorer()).keep.nonzero().flatten().tolist()
                  for s in range(20)]
    assert other_seed != picks


def test_srd_count_and_no_scoring():
    pol = SRDPolicy(gamma=0.9, seed=0)
    for epoch in (5, 10, 30):
        sel = pol.select(epoch, batch(b=32), RaisingScorer())
        assert int(sel.keep.sum()) == int(0.9 ** epoch * 32)          # 18, 11, 1
        assert torch.isnan(sel.p_true).all()
        assert set(decisions(sel)) <= {D.KEPT, D.DROPPED_CONFIDENT}


# ---- ERTS ---------------------------------------------------------------------------------------------
def test_erts_is_plain_pdd_until_warm_up_plus_cam_start():
    pol = ERTSPolicy(DBPDPolicy(tau=0.3), phi=0.7, cam_start=3)
    assert pol.filter_start == 8
    for epoch in (5, 6, 7):
        s = StandInScorer()
        sel = pol.select(epoch, batch(), s)
        assert sel.keep.nonzero().flatten().tolist() == [1, 2, 4, 5, 7]
        assert not any(isinstance(c, tuple) for c in s.calls)          # no focus asked, no hint


def test_erts_filter_and_rescue_decisions():
    labels = [0, 0, 0, 0, 1, 0, 0, 0]                                  # pos4 is class 1's only candidate
    s = StandInScorer()
    sel = make_policy("xai_dbpd", tau=0.3, phi=0.7).select(8, batch(labels=labels), s)
    assert decisions(sel) == [D.DROPPED_CONFIDENT, D.DROPPED_LOW_FOCUS, D.KEPT, D.DROPPED_CONFIDENT, D.RESCUED,
                              D.KEPT, D.DROPPED_CONFIDENT, D.KEPT]
    assert sel.keep.tolist() == [False, False, True, False, True, True, False, True]
    assert s.calls[0] == ("expect_focus", "topk_mean")                 # hint before the scoring pass
    assert s.calls[-1] == ("focus", [1, 2, 4, 5, 7])                   # focus of candidates only, once
    assert sel.combined[1].item() == pytest.approx(0.45) and sel.combined[2].item() == pytest.approx(0.72)
    assert math.isnan(sel.focus[0].item()) and sel.focus[5].item() == pytest.approx(0.8)


def test_erts_works_with_the_bare_protocol():
    sel = make_policy("xai_dbpd").select(8, batch(), MinimalScorer())
    assert sel.keep.nonzero().flatten().tolist() == [2, 5, 7]


def test_xai_srd_explains_only_its_random_candidates():
    s = StandInScorer()
    pol = make_policy("xai_srd", gamma=0.5, phi=0.5, seed=1)
    sel = pol.select(8, batch(labels=[0] * 8), s)                      # int(0.5**8 * 8) = 0 candidates
    assert decisions(sel) == [D.DROPPED_CONFIDENT] * 8 and ("focus", []) not in s.calls
    pol = make_policy("xai_srd", gamma=0.95, phi=0.5, seed=1)          # int(0.95**8 * 8) = 5 candidates
    s = StandInScorer()
    sel = pol.select(8, batch(labels=[0] * 8), s)
    cand = next(c[1] for c in s.calls if isinstance(c, tuple) and c[0] == "focus")
    assert len(cand) == 5 and "p_true" in s.calls
    assert int(sel.keep.sum()) == 2                                    # int(0.5 * 5), one class: no rescue
    assert set(sel.keep.nonzero().flatten().tolist()) <= set(cand)


def test_xai_smrd_keeps_phi_of_the_random_candidates():
    sel = make_policy("xai_smrd", phi=0.7, seed=2).select(9, batch(), StandInScorer())
    assert int(sel.keep.sum()) == 3                                    # 5 random candidates -> int(3.5)
    assert (torch.tensor(decisions(sel)) == D.DROPPED_LOW_FOCUS).sum() == 2


# ---- factory --------------------------------------------------------------------------------------
def test_make_policy_names_and_round_trip():
    assert list_policies() == ["full", "dbpd", "smrd", "srd", "xai_dbpd", "xai_smrd", "xai_srd", "infobatch",
                               "cached_erts", "noise_aware"]
    for name in list_policies():
        pol = make_policy(name)
        assert pol.name == name
        assert repr(make_policy(**pol.params())) == repr(pol)
    assert make_policy("XAI-DBPD").name == "xai_dbpd" and make_policy("erts_srd").name == "xai_srd"


@pytest.mark.parametrize("name, params, err, match", [
    ("dbdp", {}, ValueError, "expected one of 'full', 'dbpd'"),
    ("xai_dbpd", {"phi": 0.0}, ValueError, r"phi in \(0.0, 1.0\]"),
    ("xai_dbpd", {"phi": 1.5}, ValueError, "phi"),
    ("dbpd", {"tau": -0.1}, ValueError, r"tau in \[0.0, 1.0\]"),
    ("srd", {"gamma": 0.0}, ValueError, r"gamma in \(0.0, 1.0\]"),
    ("dbpd", {"start_revision": 3}, ValueError, "start_revision >= warm_up"),
    ("srd", {"tau": 0.3}, TypeError, "it takes gamma, warm_up, start_revision, seed"),
    ("full", {"phi": 0.7}, TypeError, "it takes seed"),
    ("xai_dbpd", {"cam_start": -1}, ValueError, "cam_start >= 0"),
    ("xai_dbpd", {"focus": "nope"}, ValueError, "topk_mean"),
])
def test_make_policy_validation(name, params, err, match):
    with pytest.raises(err, match=match):
        make_policy(name, **params)


def test_paper_policy_defaults():
    pol = paper_policy("xai_dbpd")
    assert (pol.base.tau, pol.phi, pol.cam_start, pol.warm_up, pol.start_revision, pol.focus_name) == (
        0.3, 0.7, 3, 5, None, "topk_mean")
    assert paper_policy("srd").gamma == 0.99
    assert paper_policy("xai_smrd", phi=0.5).phi == 0.5


# ---- ModelBatchScorer --------------------------------------------------------------------------------
@pytest.fixture
def tiny():
    from erts_kit.models import build_model
    torch.manual_seed(0)
    model = build_model("small_cnn", n_leads=2, n_classes=3).train()
    b = BatchInfo(x=torch.randn(6, 2, 64), y=torch.tensor([0, 1, 2, 0, 1, 2]), indices=torch.arange(6), step=0)
    return model, b


def test_scorer_plain_pass_is_lazy_eval_mode_and_charged_once(tiny):
    model, b = tiny
    bn_before = model.features[0][1].running_mean.clone()
    led = CostLedger()
    s = ModelBatchScorer(model, b, ledger=led)
    assert led.totals()["scored"] == 0                                  # nothing until asked
    p = s.p_true()
    s.p_true(); s.pred_correct()
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(b.x), 1)[torch.arange(6), b.y]
    model.train()
    torch.testing.assert_close(p, expected)
    assert model.training and torch.equal(model.features[0][1].running_mean, bn_before)   # stats untouched
    t = led.totals()
    assert (t["scored"], t["gradcam"]) == (6, 0) and "score" in t["time"]


def test_scorer_shared_pass_gives_p_true_and_focus_once(tiny):
    from erts_kit.explain import focus_score, gradcam_and_logits
    model, b = tiny
    led = CostLedger()
    s = ModelBatchScorer(model, b, ledger=led)
    s.expect_focus("topk_mean")
    p = s.p_true()
    f = s.focus(torch.tensor([1, 4]))
    s.focus(torch.tensor([0]))
    maps, logits = gradcam_and_logits(model, b.x, b.y)
    torch.testing.assert_close(p, torch.softmax(logits.float(), 1)[torch.arange(6), b.y])
    torch.testing.assert_close(f, focus_score(maps, "topk_mean")[[1, 4]])
    t = led.totals()
    assert (t["scored"], t["gradcam"]) == (6, 6) and "gradcam" in t["time"] and "score" not in t["time"]
    assert model.training


def test_scorer_focus_after_plain_pass_explains_candidates_only(tiny):
    model, b = tiny
    led = CostLedger()
    s = ModelBatchScorer(model, b, ledger=led)
    s.p_true()
    assert s.focus(torch.tensor([2, 3])).shape == (2,)
    t = led.totals()
    assert (t["scored"], t["gradcam"]) == (6 + 2, 2)


def test_scorer_with_erts_policy_charges_one_shared_pass(tiny):
    model, b = tiny
    led = CostLedger()
    sel = paper_policy("xai_dbpd", tau=1.0).select(8, b, ModelBatchScorer(model, b, ledger=led))
    t = led.totals()
    assert (t["scored"], t["gradcam"]) == (6, 6)
    assert int(sel.keep.sum()) >= 4                                    # int(0.7 * 6) = 4, plus any rescue


def test_scorer_multi_hot_p_true(tiny):
    model, b = tiny
    y = torch.tensor([[1., 0., 1.]] * 6)
    s = ModelBatchScorer(model, BatchInfo(b.x, y, b.indices, 0))
    model.eval()
    with torch.no_grad():
        sig = torch.sigmoid(model(b.x))
    model.train()
    torch.testing.assert_close(s.p_true(), ((sig[:, 0] + (1 - sig[:, 1]) + sig[:, 2]) / 3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (autocast path of ModelBatchScorer)")
def test_scorer_amp_on_cuda_matches_fp32(tiny):
    model, b = tiny
    model = model.cuda()
    bc = BatchInfo(b.x.cuda(), b.y.cuda(), b.indices.cuda(), 0)
    led = CostLedger(sync_cuda=True)
    s32, s16 = ModelBatchScorer(model, bc, ledger=led), ModelBatchScorer(model, bc, ledger=led, amp=True)
    for s in (s32, s16):
        s.expect_focus()
    torch.testing.assert_close(s16.p_true(), s32.p_true(), atol=2e-2, rtol=0)
    f16, f32 = s16.focus(torch.arange(6)), s32.focus(torch.arange(6))
    assert f16.dtype == torch.float32 and f16.device.type == "cpu"
    torch.testing.assert_close(f16, f32, atol=5e-2, rtol=0)
