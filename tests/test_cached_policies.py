"""Policies without a per-epoch scoring pass: InfoBatch, cached-score ERTS, noise-aware; the score cache."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from erts_kit.data import load_dataset
from erts_kit.models import build_model
from erts_kit.selection import BatchInfo, Decision, make_policy
from erts_kit.selection.policies import CachedERTSPolicy, InfoBatchPolicy, NoiseAwarePolicy, ScoreCache, margins
from erts_kit.training import TrainConfig, train
from erts_kit.training.losses import ClassificationLoss
from erts_kit.training.step import train_step


# -- InfoBatch keeps the expected gradient ---------------------------------------------------------
def _grad(net, criterion, x, y, keep, scale):
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    sums = torch.zeros(4, dtype=torch.float64)
    train_step(net, net, criterion, opt, torch.amp.GradScaler("cuda", enabled=False), None, x, y, keep,
               int(keep.sum()), False, 1, False, 0, 0, sums, scale=scale)
    return torch.cat([p.grad.flatten() for p in net.parameters()])


@pytest.mark.parametrize("kind", ["ce", "cb_ce"])
def test_infobatch_rescaling_keeps_the_expected_gradient(kind):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    crit = ClassificationLoss(kind, torch.tensor([1.0, 2.0, 0.5]) if kind == "cb_ce" else None)
    x, y = torch.randn(4, 1, 4), torch.tensor([0, 1, 2, 1])
    full = _grad(net, crit, x, y, torch.ones(4, dtype=torch.bool), None)
    r, low = 0.5, [0, 2]                       # samples 0 and 2 are "well learned": pruned with probability r
    expected, naive = torch.zeros_like(full), torch.zeros_like(full)
    for pruned in itertools.product([False, True], repeat=len(low)):   # every prune pattern, by hand
        prob = np.prod([r if p else 1 - r for p in pruned])
        keep = torch.ones(4, dtype=torch.bool)
        for i, p in zip(low, pruned):
            keep[i] = not p
        scale = torch.ones(4)
        scale[[i for i, p in zip(low, pruned) if not p]] = 1 / (1 - r)
        expected += prob * _grad(net, crit, x, y, keep, scale)
        naive += prob * _grad(net, crit, x, y, keep, None)
    assert torch.allclose(expected, full, atol=1e-6)
    assert not torch.allclose(naive, full, atol=1e-3)   # without the rescaling the gradient is biased


def test_infobatch_prunes_only_below_the_mean_and_scales_the_kept_ones():
    p = InfoBatchPolicy(prune_ratio=0.5, warm_up=1, seed=3)
    n = 400
    logits = torch.zeros(n, 2)
    logits[:, 0] = torch.linspace(-3, 3, n)               # loss falls with the index
    p.observe(0, torch.arange(n), None, logits, torch.zeros(n, dtype=torch.long))
    idx = torch.arange(n + 10)                            # 10 indices never seen
    b = BatchInfo(x=torch.zeros(n + 10, 1, 4), y=torch.zeros(n + 10, dtype=torch.long), indices=idx, step=7)
    s = p.select(1, b, scorer=None)
    loss = p.cache.get("loss", idx)
    low = torch.isfinite(loss) & (loss < p.threshold(1))
    assert s.keep[~low].all()                             # high-loss and unseen samples are always kept
    assert 0.4 < (~s.keep[low]).float().mean() < 0.6      # about r of the low-loss ones pruned
    assert torch.equal(s.scale[low & s.keep], torch.full((int((low & s.keep).sum()),), 2.0))
    assert torch.equal(s.scale[~low], torch.ones(int((~low).sum())))
    assert torch.equal(p.select(1, b, None).keep, s.keep)  # same (seed, epoch, step): same prunes
    assert p.select(0, b, None).keep.all() and (p.select(0, b, None).decision == Decision.WARMUP).all()


# -- the cache: keyed by dataset index, AUM, survives resume --------------------------------------
def test_margins_and_aum_on_hand_made_logits():
    logits1 = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 3.0]])
    logits2 = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    y = torch.tensor([0, 2])
    assert margins(logits1, y).tolist() == [1.0, 2.0]
    c = ScoreCache()
    c.record_training(0, torch.tensor([5, 9]), logits1, y)
    c.record_training(1, torch.tensor([5, 9]), logits2, y)
    assert c.get("aum", [5, 9]).tolist() == [0.0, 3.5]     # (1 + -1) / 2, (2 + 5) / 2
    assert c.get("margin", [9]).tolist() == [5.0]
    assert torch.isnan(c.get("aum", [0])).all() and c.get("trained_epoch", [0, 5]).tolist() == [-1, 1]
    assert margins(torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])).tolist() == [1.5]


def test_cache_is_keyed_by_dataset_index_whatever_the_batch_order():
    c = ScoreCache()
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    c.record_training(0, torch.tensor([42, 7, 100]), logits, torch.tensor([0, 0, 0]))
    assert c.get("margin", [100, 42, 7]).tolist() == [0.0, 3.0, -3.0]
    with pytest.raises(ValueError, match="non-negative"):
        c.get("loss", [-1])
    with pytest.raises(ValueError, match="equal-length"):
        c.load_state_dict({"loss": torch.zeros(2)})


def _tiny():
    return load_dataset("synthetic", n_samples=60, n_leads=1, duration_s=3.0, seed=1, label_flip_rate=0.2)


def _run(policy, epochs, run_dir=None, resume=False):
    data = _tiny()
    torch.manual_seed(0)
    model = build_model("small_cnn", data.n_leads, data.n_classes)
    res = train(model, data, policy, TrainConfig(epochs=epochs, batch_size=8, lr=1e-3), run_dir=run_dir,
                progress=False, resume=resume)
    return data, res


@pytest.mark.parametrize("name,kw", [("infobatch", {"warm_up": 1}), ("noise_aware", {"warm_up": 1, "drop_share": 0.2}),
                                     ("cached_erts", {"warm_up": 1, "cam_start": 1, "rescore_every": 2})])
def test_cached_scores_survive_resume(tmp_path, name, kw):
    data, straight = _run(make_policy(name, **kw), 4)     # no checkpoints at all
    pol_a = make_policy(name, **kw)
    _run(pol_a, 4, tmp_path / "a")
    pol_b = make_policy(name, **kw)
    _run(pol_b, 2, tmp_path / "b")
    pol_c = make_policy(name, **kw)                      # a fresh object: its cache comes from last.pt
    _, resumed = _run(pol_c, 4, tmp_path / "b", resume=True)
    for k, v in pol_a.cache.state_dict().items():
        w = pol_c.cache.state_dict()[k]
        assert torch.allclose(v.double(), w.double(), atol=1e-5, equal_nan=True), k
    train_idx = torch.as_tensor(data.splits["train"])
    other = torch.as_tensor(np.setdiff1d(np.arange(data.n_samples), data.splits["train"]))
    assert (pol_c.cache.get("trained_epoch", other) == -1).all()    # never trained, never cached
    assert (pol_c.cache.get("trained_epoch", train_idx) >= 0).all()
    assert straight.history["kept"].tolist() == resumed.history["kept"].tolist()


@pytest.mark.parametrize("name,kw", [("infobatch", {}), ("noise_aware", {"drop_share": 0.2})])
def test_epoch_pruning_batches_only_the_kept_samples_and_logs_the_pruned(monkeypatch, name, kw):
    import erts_kit.training.epoch as epoch_mod
    steps: dict[str, list[int]] = {}

    def counting(where):
        real = epoch_mod.train_step

        def step(*args, **kwargs):
            steps.setdefault(where, []).append(args[13])   # the epoch
            return real(*args, **kwargs)
        return step

    runs = {}
    for where in ("epoch", "batch"):
        monkeypatch.setattr(epoch_mod, "train_step", counting(where))
        runs[where] = _run(make_policy(name, warm_up=1, prune_ratio=0.8, prune_at=where, **kw), 3)
        monkeypatch.undo()
    data, res = runs["epoch"]
    train_idx = np.sort(data.splits["train"])
    n_batches = -(-len(train_idx) // 8)
    per_epoch = {w: np.bincount(steps[w], minlength=3) for w in steps}
    assert per_epoch["batch"].tolist() == [n_batches] * 3           # masking within batches: every step still runs
    assert per_epoch["epoch"][0] == n_batches                        # warm-up: every sample
    log = res.selection_log
    for e in (1, 2):
        rows = log.epoch(e)
        assert np.array_equal(np.sort(rows["index"].to_numpy()), train_idx)   # every sample decided, once
        kept = int(res.history.loc[e, "kept"])
        decisions = rows["decision"].astype(str)
        assert kept == int((decisions == "KEPT").sum()) < len(train_idx)
        assert per_epoch["epoch"][e] == -(-kept // 8)                 # only the kept samples are batched
        assert set(decisions[decisions != "KEPT"]) <= {"DROPPED_CONFIDENT", "DROPPED_LOW_FOCUS"}
    assert res.history["kept_frac"].iloc[1] == pytest.approx(res.history["kept"].iloc[1] / len(train_idx))


def test_plan_epoch_prunes_like_the_batch_rule_and_select_follows_the_plan():
    p = InfoBatchPolicy(prune_ratio=0.5, warm_up=1, seed=3)
    n = 400
    logits = torch.zeros(n, 2)
    logits[:, 0] = torch.linspace(-3, 3, n)
    p.observe(0, torch.arange(n), None, logits, torch.zeros(n, dtype=torch.long))
    idx = torch.arange(n)
    plan = p.plan_epoch(1, idx)
    low = p.cache.get("loss", idx) < p.threshold(1)
    assert plan.keep[~low].all() and 0.4 < (~plan.keep[low]).float().mean() < 0.6
    assert torch.equal(plan.scale[low & plan.keep], torch.full((int((low & plan.keep).sum()),), 2.0))
    kept = idx[plan.keep][torch.randperm(int(plan.keep.sum()))[:16]]    # a batch of kept samples, any order
    b = BatchInfo(x=torch.zeros(16, 1, 4), y=torch.zeros(16, dtype=torch.long), indices=kept, step=0)
    s = p.select(1, b, None)
    assert s.keep.all() and torch.equal(s.scale, plan.scale[kept])
    outside = BatchInfo(x=torch.zeros(1, 1, 4), y=torch.zeros(1, dtype=torch.long), indices=torch.tensor([n + 5]),
                        step=1)
    with pytest.raises(RuntimeError, match="outside epoch 1's plan"):
        p.select(1, outside, None)
    assert InfoBatchPolicy(prune_at="batch").plan_epoch(1, idx) is None


def test_cached_erts_pays_scoring_only_in_rescore_epochs():
    pol = make_policy("cached_erts", warm_up=1, cam_start=1, rescore_every=2)
    data, res = _run(pol, 6)
    table = res.ledger.epoch_table(n_train=len(data.splits["train"]))
    for row in table.itertuples():
        assert (row.scored > 0) == pol.is_rescore_epoch(int(row.epoch)), row
        assert (row.gradcam > 0) == pol.needs_focus(int(row.epoch)), row
    _, published = _run(make_policy("xai_dbpd", warm_up=1, cam_start=1), 6)
    assert res.ledger.totals()["scored"] < published.ledger.totals()["scored"]


def test_noise_aware_flags_the_lowest_aum_and_never_trains_them_again():
    p = NoiseAwarePolicy(drop_share=0.25, warm_up=1, prune_ratio=0.0)
    logits = torch.tensor([[3.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 4.0]])
    p.observe(0, torch.arange(4), None, logits, torch.zeros(4, dtype=torch.long))
    b = BatchInfo(x=torch.zeros(4, 1, 4), y=torch.zeros(4, dtype=torch.long), indices=torch.arange(4), step=0)
    s = p.select(1, b, None)
    assert s.keep.tolist() == [True, True, True, False]   # AUM -4 is the lowest quarter (and negative)
    p2 = NoiseAwarePolicy(drop_share=0.25, warm_up=1, start_revision=2)
    p2.load_state_dict(p.state_dict())
    assert p2.select(2, b, None).keep.tolist() == [True, True, True, False]   # annealing keeps the flag


def test_make_policy_builds_and_round_trips_the_new_policies():
    for name in ("infobatch", "cached_erts", "noise_aware"):
        p = make_policy(name)
        assert make_policy(**p.params()).params() == p.params()
    assert isinstance(make_policy("cached_erts", rescore_every=4), CachedERTSPolicy)
    with pytest.raises(TypeError, match="takes no parameter 'phi'"):
        make_policy("infobatch", phi=0.5)
    with pytest.raises(ValueError, match="prune_ratio"):
        make_policy("infobatch", prune_ratio=1.0)
    with pytest.raises(ValueError, match="focus score"):
        make_policy("cached_erts", focus="nope")
