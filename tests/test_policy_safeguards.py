"""Policies on imbalanced data: the per-class floor, the schedule warnings, select_after_warmup."""
from __future__ import annotations

import warnings

import pytest
import torch

from erts_kit.selection import make_policy
from erts_kit.selection.base import Decision
from erts_kit.selection.policies.common import class_floor_pick
from erts_kit.training import ScheduleWarning

from test_policies import StandInScorer, batch, decisions
from test_train import run

D = Decision
# DBPD(tau=0.3) on test_policies' P = [.9, .1, .2, .9, .0, .25, .9, .05] keeps 1, 2, 4, 5, 7
LABELS = [1, 0, 0, 1, 0, 0, 1, 0]   # class 1 at 0, 3, 6: all confident (p .9), all dropped by DBPD


# ---- the floor ----------------------------------------------------------------------------------------------
def test_floor_pick_by_hand():
    kept = torch.tensor([False, True, True, False, True, False])
    cls = torch.tensor([0, 0, 0, 1, 1, 1])
    p = torch.tensor([0.3, 0.1, 0.2, 0.9, 0.5, 0.6])
    assert class_floor_pick(kept, cls, 0.0, p).tolist() == []
    assert class_floor_pick(kept, cls, 0.5, p).tolist() == [5]          # class 1: ceil(1.5) = 2, has 1: + hardest (0.6)
    assert class_floor_pick(kept, cls, 1.0, p).tolist() == [0, 3, 5]    # every sample
    assert class_floor_pick(kept, cls, 0.01, p).tolist() == []          # each class already keeps one
    tie = class_floor_pick(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.long), 0.3,
                           torch.tensor([0.5, 0.5, 0.5]))
    assert tie.tolist() == [0]                                          # ties: the earlier position


def test_dbpd_floor_keeps_the_floor_with_the_hardest_dropped():
    p = torch.tensor([0.9, 0.1, 0.2, 0.8, 0.0, 0.25, 0.95, 0.05])   # class 1: p .9, .8, .95
    plain = make_policy("dbpd", warm_up=0).select(0, batch(labels=LABELS), StandInScorer(p_true=p))
    assert not plain.keep[[0, 3, 6]].any()                          # class 1 vanishes without a floor
    sel = make_policy("dbpd", warm_up=0, class_floor=0.5).select(0, batch(labels=LABELS), StandInScorer(p_true=p))
    # class 1 has 3 samples: ceil(1.5) = 2 kept, the two hardest (p .8 at 3, .9 at 0), decision FLOOR
    assert decisions(sel) == [D.FLOOR, D.KEPT, D.KEPT, D.FLOOR, D.KEPT, D.KEPT, D.DROPPED_CONFIDENT, D.KEPT]
    assert sel.keep.tolist() == [True, True, True, True, True, True, False, True]
    # warm-up epochs are untouched (every sample kept anyway)
    warm = make_policy("dbpd", warm_up=2, class_floor=0.5).select(0, batch(labels=LABELS), StandInScorer())
    assert decisions(warm) == [D.WARMUP] * 8


def test_srd_floor_asks_for_p_true_only_when_a_class_is_short():
    pol = make_policy("srd", warm_up=0, gamma=0.99, class_floor=0.25)
    full = StandInScorer()
    sel = pol.select(0, batch(labels=LABELS), full)   # gamma**0 = 1: every sample kept
    assert full.calls == [] and decisions(sel) == [D.KEPT] * 8
    few = make_policy("srd", warm_up=0, gamma=0.01, class_floor=0.25)
    scorer = StandInScorer()
    sel = few.select(1, batch(labels=LABELS), scorer)   # int(0.01 * 8) = 0 kept: both classes short
    assert scorer.calls == ["p_true"]
    # class 0 (5 samples): ceil(1.25) = 2, hardest p .0 (4) and .05 (7); class 1 (3): 1, hardest p .9 (0)
    assert [i for i, d in enumerate(decisions(sel)) if d == D.FLOOR] == [0, 4, 7]


def test_erts_floor_applies_after_the_focus_filter():
    pol = make_policy("xai_dbpd", warm_up=0, cam_start=0, phi=0.5, class_floor=0.5)
    sel = pol.select(0, batch(labels=LABELS), StandInScorer())
    d = decisions(sel)
    # class 1 (0, 3, 6, p .9 each) is never a candidate: 2 of 3 topped up, ties -> earlier positions
    assert [d[i] for i in (0, 3, 6)] == [D.FLOOR, D.FLOOR, D.DROPPED_CONFIDENT]
    # class 0 (candidates 1, 2, 4, 5, 7; combined .45 .72 .30 .60 .57): phi 0.5 keeps int(2.5) = 2 (2, 5);
    # the floor wants ceil(2.5) = 3, so the hardest dropped candidate (4, p .0) is added
    assert [d[i] for i in (1, 2, 4, 5, 7)] == [D.DROPPED_LOW_FOCUS, D.KEPT, D.FLOOR, D.KEPT, D.DROPPED_LOW_FOCUS]
    assert pol.params()["class_floor"] == 0.5
    assert "class_floor" not in make_policy("xai_dbpd").params()   # shown only when set
    assert make_policy(**pol.params()).params() == pol.params()
    with pytest.raises(ValueError, match="class_floor"):
        make_policy("dbpd", class_floor=-0.1)
    with pytest.raises(TypeError, match="class_floor"):
        make_policy("full", class_floor=0.1)


# ---- warnings -----------------------------------------------------------------------------------------------
def _no_schedule_warning():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error", ScheduleWarning)
    return ctx


def test_warns_when_a_run_never_reaches_its_filter_epoch():
    with pytest.warns(ScheduleWarning, match="never filters") as rec:
        run(policy=make_policy("xai_dbpd"), epochs=3)   # filter from epoch 8
    assert "on every sample, like full" in str(rec[0].message)
    with pytest.warns(ScheduleWarning, match="like its PDD base"):
        run(policy=make_policy("xai_dbpd", warm_up=1, cam_start=5), epochs=3)
    with pytest.warns(ScheduleWarning, match="never selects"):
        run(policy=make_policy("dbpd", warm_up=2), epochs=2)


def test_no_schedule_warning_when_the_policy_acts():
    ctx = _no_schedule_warning()
    try:
        run(policy=make_policy("xai_dbpd", warm_up=0, cam_start=1), epochs=2, lr=1e-2)
        run(epochs=1)   # full data: nothing to warn about
        run(policy=make_policy("dbpd", warm_up=1), epochs=3, lr=1e-12, select_after_warmup=True)
    finally:
        ctx.__exit__(None, None, None)


def test_warns_when_the_best_epoch_is_a_warm_up_epoch_and_select_after_warmup_avoids_it():
    # lr 1e-12: the weights barely move, every epoch scores the same, and the first epoch (0) stays best
    pol = make_policy("dbpd", warm_up=2)
    with pytest.warns(ScheduleWarning, match="warm-up epoch"):
        res = run(policy=pol, epochs=4, lr=1e-12)
    assert res.best_epoch == 0
    ctx = _no_schedule_warning()
    try:
        res = run(policy=make_policy("dbpd", warm_up=2), epochs=4, lr=1e-12, select_after_warmup=True)
    finally:
        ctx.__exit__(None, None, None)
    assert res.best_epoch == 2   # the first epoch after warm-up, the best among 2 and 3
    assert res.history.loc[res.history["epoch"] == 0, "val_macro_f1"].item() == pytest.approx(
        res.history.loc[res.history["epoch"] == 2, "val_macro_f1"].item())
