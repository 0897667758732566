"""Reference parity: the kit in ``fidelity="reference"`` mode against an independent re-implementation.

The re-implementation below is written from the ERTS paper and the documented behaviour of its
reference code (github Veerendhrakumardangeti/xai-ecg-dropout), in plain torch, without any kit
helper on its path: it pads the 12-row image to 32 rows itself and runs a twin network built for
32 rows (same weights, no padding of its own); p_true comes from a no-grad forward in train mode;
Grad-CAM comes from a forward hook on the layer and ``torch.autograd.grad`` in eval mode, ReLU per
row, then the mean over rows, per-map min-max (flat: denominator 1), focus = mean of the top
max(1, W // 10) values; then top-phi by ``(1 - p_true) * focus`` and the class-aware rescue (ERTS),
or the DBPD rescue (first sample of each class without a candidate). Both sides see the same weights,
batch (8 x 12 x 640: at least 20 map positions, so k >= 2; with k = 1 focus is 1 for every non-flat map) and RNG seed (dropout and stochastic depth run in the train-mode forward).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from erts_kit.explain import focus_score, gradcam
from erts_kit.models import build_model
from erts_kit.selection import make_policy
from erts_kit.selection.base import BatchInfo, Decision
from erts_kit.selection.scoring import ModelBatchScorer
from erts_kit.training import TrainConfig, fidelity_model_kwargs, fidelity_policy_params, resolve_fidelity
from erts_kit.training.losses import ClassificationLoss, class_balanced_weights

BACKBONES = ["resnet18_2d", "mobilenetv2_2d", pytest.param("efficientnetv2s_2d", marks=pytest.mark.slow)]
N_CLASSES, PHI, SEED = 3, 0.7, 7


# ------------------------------------------------------------------------------------------------
# the independent implementation
# ------------------------------------------------------------------------------------------------
def ref_p_true(twin: torch.nn.Module, x32: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
    twin.train()
    torch.manual_seed(seed)
    with torch.no_grad():
        prob = torch.softmax(twin(x32), dim=1)
    return prob[torch.arange(len(y)), y]


def ref_focus(twin: torch.nn.Module, x32: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Focus of each sample (eval-mode Grad-CAM of the true class), the lead-reduced map, its row count H."""
    twin.eval()
    store = {}
    hook = twin.cam_layer.register_forward_hook(lambda mod, inp, out: store.__setitem__("a", out))
    try:
        with torch.enable_grad():
            logits = twin(x32)
            act = store["a"]                                            # (n, C, H, W)
            onehot = F.one_hot(y, logits.shape[1]).to(logits.dtype)
            (grad,) = torch.autograd.grad((logits * onehot).sum(), act)
    finally:
        hook.remove()
    heat = (grad.mean(dim=(2, 3))[:, :, None, None] * act.detach()).sum(1)   # (n, H, W)
    heat = F.relu(heat).mean(1)                                              # ReLU per row, then the row mean
    lo, hi = heat.amin(1, keepdim=True), heat.amax(1, keepdim=True)
    norm = (heat - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    k = max(1, norm.shape[1] // 10)
    return norm.topk(k, dim=1).values.mean(1), heat, act.shape[2]


def ref_top_phi_with_rescue(cand: list[int], combined: list[float], y: list[int], phi: float) -> tuple[set, set]:
    """Top max(1, int(phi * n)) by combined (ties: earlier position), then the best of each emptied class."""
    order = sorted(range(len(cand)), key=lambda i: (-combined[i], cand[i]))
    kept = set(order[:max(1, int(phi * len(cand)))])
    rescued = set()
    for cls in sorted({y[c] for c in cand}):
        members = [i for i in order if y[cand[i]] == cls]
        if not any(i in kept for i in members):
            rescued.add(members[0])
    return {cand[i] for i in kept}, {cand[i] for i in rescued}


def ref_dbpd_rescue(cand: list[int], y: list[int]) -> set:
    if not cand:
        return set()
    have = {y[c] for c in cand}
    return {next(i for i, c in enumerate(y) if c == cls) for cls in sorted(set(y)) if cls not in have}


# ------------------------------------------------------------------------------------------------
# fixtures: one set of weights per backbone
# ------------------------------------------------------------------------------------------------
def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    t = torch.linspace(0, 1, 640)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    x = torch.sin(2 * torch.pi * (y[:, None, None] + 2) * t) + 0.5 * torch.randn(8, 12, 640, generator=g)
    return x.float(), y


@pytest.fixture(scope="module", params=BACKBONES)
def setup(request):
    name = request.param
    torch.manual_seed(0)
    x, y = _batch()
    kw = fidelity_model_kwargs(name, "reference")
    model = build_model(name, 12, N_CLASSES, **kw)
    with torch.no_grad():                       # one train-mode forward: BatchNorm statistics off their init
        model.train()
        model(x)
    # the same network built for 32 rows and no padding of its own: the test pads by hand
    twin = build_model(name, 32, N_CLASSES, **{k: v for k, v in kw.items() if k != "lead_padding"})
    twin.load_state_dict(model.state_dict())
    plain = build_model(name, 12, N_CLASSES)    # kit mode: no padding, no extra dropout
    plain.load_state_dict(model.state_dict())
    p_ref = ref_p_true(copy.deepcopy(twin), _pad(x), y, SEED)   # the thresholds below are set from it
    return name, {"kit": model, "twin": twin, "plain": plain, "p_ref": p_ref}, x, y


def _fresh(models: dict, which: str) -> torch.nn.Module:
    return copy.deepcopy(models[which]).train()


def _pad(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros(x.shape[0], 10, x.shape[2]), x, torch.zeros(x.shape[0], 10, x.shape[2])], dim=1)


def _kit_select(models: dict, x: torch.Tensor, y: torch.Tensor, policy):
    """What the training loop does in one batch under fidelity='reference' (epoch.py's scorer set-up)."""
    sw = resolve_fidelity(TrainConfig(fidelity="reference"))
    batch = BatchInfo(x=x, y=y, indices=torch.arange(len(y)), step=0)
    scorer = ModelBatchScorer(_fresh(models, "kit"), batch, train_mode=sw.scoring_mode == "train",
                              relu_order=sw.cam_relu_order, amp=not sw.scoring_fp32)
    torch.manual_seed(SEED)
    scorer.p_true()                        # the reference's scoring forward (train mode)
    return policy.select(0, batch, scorer)


def _positions(sel, decision: Decision) -> set:
    return set(torch.nonzero(sel.decision == int(decision)).flatten().tolist())


# ------------------------------------------------------------------------------------------------
# parity
# ------------------------------------------------------------------------------------------------
def test_xai_dbpd_reference_mode_equals_the_independent_implementation(setup):
    name, models, x, y = setup
    x32 = _pad(x)
    srt = torch.sort(models["p_ref"]).values
    tau = float((srt[5] + srt[6]) / 2)                 # six candidates
    twin = _fresh(models, "twin")
    p_ref = ref_p_true(twin, x32, y, SEED)             # the same pass moves the twin's BatchNorm statistics
    cand = torch.nonzero(p_ref < tau).flatten()
    f_ref, _, _ = ref_focus(twin, x32[cand], y[cand])
    combined = ((1 - p_ref[cand]) * f_ref).tolist()
    kept_ref, rescued_ref = ref_top_phi_with_rescue(cand.tolist(), combined, y.tolist(), PHI)

    policy = make_policy("xai_dbpd", tau=tau, phi=PHI, warm_up=0, cam_start=0,
                         **fidelity_policy_params("xai_dbpd", "reference"))
    sel = _kit_select(models, x, y, policy)
    assert torch.allclose(sel.p_true, p_ref, atol=1e-6)
    assert torch.allclose(sel.focus[cand], f_ref, atol=1e-6)
    assert _positions(sel, Decision.KEPT) == kept_ref
    assert _positions(sel, Decision.RESCUED) == rescued_ref
    assert len(cand) == 6 and 0 < len(kept_ref) < len(cand)


def test_dbpd_rescue_reference_mode_equals_the_independent_implementation(setup):
    name, models, x, y = setup
    p_ref = models["p_ref"]
    mins = {c: float(p_ref[y == c].min()) for c in range(N_CLASSES)}
    tau = max(mins.values())                   # the class of the largest minimum has no candidate (strict <)
    cand = torch.nonzero(p_ref < tau).flatten().tolist()
    rescued_ref = ref_dbpd_rescue(cand, y.tolist())

    policy = make_policy("dbpd", tau=tau, warm_up=0, **fidelity_policy_params("dbpd", "reference"))
    sel = _kit_select(models, x, y, policy)
    assert torch.allclose(sel.p_true, p_ref, atol=1e-6)
    assert _positions(sel, Decision.KEPT) == set(cand)
    assert _positions(sel, Decision.RESCUED) == rescued_ref
    assert len(rescued_ref) >= 1 and cand


def test_kit_mode_differs_where_it_should(setup):
    """Kit mode on the same weights: padding changes every focus; the ReLU order matters only with H > 1 rows."""
    name, models, x, y = setup
    twin = _fresh(models, "twin").eval()
    f_ref, heat_ref, rows = ref_focus(twin, _pad(x), y)
    plain = _fresh(models, "plain").eval()
    map_kit = gradcam(plain, x, y, relu_order="after_mean")      # same width W, other values
    assert map_kit.shape == heat_ref.shape and not torch.allclose(map_kit, heat_ref, rtol=1e-4, atol=0)
    padded = _fresh(models, "kit").eval()
    before = gradcam(padded, x, y, relu_order="before_mean")
    after = gradcam(padded, x, y, relu_order="after_mean")
    assert torch.allclose(before, heat_ref, rtol=1e-5, atol=1e-9)
    assert torch.allclose(focus_score(before, "topk_mean"), f_ref, atol=1e-6)
    if rows > 1:
        assert not torch.allclose(before, after, atol=1e-6)
    else:                                   # one row at the layer: the two orders are the same map
        assert torch.equal(before, after)
    assert rows == (2 if name == "resnet18_2d" else 1)


# ------------------------------------------------------------------------------------------------
# the training-side switches
# ------------------------------------------------------------------------------------------------
def test_mean_reduction_is_the_reference_loss():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 3), torch.tensor([0, 0, 1, 2, 2, 2])
    w = class_balanced_weights([5, 0, 7], beta=0.9999, empty_class="reference")
    ref = torch.nn.CrossEntropyLoss(weight=w, reduction="none")(logits, y).mean()
    assert torch.allclose(ClassificationLoss("cb_ce", w, reduction="mean")(logits, y), ref)
    kit = ClassificationLoss("cb_ce", class_balanced_weights([5, 0, 7]))(logits, y)
    assert torch.allclose(kit, torch.nn.CrossEntropyLoss(weight=class_balanced_weights([5, 0, 7]))(logits, y))
    assert float(w[1]) > 1e3 * float(w[0])                # the empty class's huge weight


def test_mobilenet_head_dropout_only_in_reference_mode():
    assert fidelity_model_kwargs("mobilenetv2_2d", "kit") == {}
    torch.manual_seed(0)
    m = build_model("mobilenetv2_2d", 12, 3, head_input_dropout=0.3)
    plain = build_model("mobilenetv2_2d", 12, 3)
    plain.load_state_dict(m.state_dict())             # the same keys: the dropout has no parameters
    x = torch.randn(4, 12, 64)
    with torch.no_grad():
        assert torch.equal(m.eval()(x), plain.eval()(x))
        torch.manual_seed(1)
        a = m.train()(x)
        torch.manual_seed(1)
        b = plain.train()(x)
    assert not torch.allclose(a, b)                   # applied in train mode
    with pytest.raises(ValueError, match="head_input_dropout"):
        build_model("mobilenetv2_2d", 12, 3, head_input_dropout=1.5)
    with pytest.raises(ValueError, match="lead_padding"):
        build_model("resnet18_2d", 12, 3, lead_padding=-1)


def test_reference_mode_charges_its_extra_passes(tmp_path):
    """Warm-up epochs score every batch under 'reference' (charged), none under 'kit'; SRD pays after each step."""
    from erts_kit.data import ECGData
    from erts_kit.training import train
    rng = np.random.default_rng(0)
    y = np.arange(48) % 2
    x = (np.sin(2 * np.pi * (y[:, None, None] + 1) * np.linspace(0, 1, 64)) + 0.3 * rng.standard_normal((48, 2, 64)))
    splits = {"train": np.arange(32), "val": np.arange(32, 40), "test": np.arange(40, 48)}
    data = ECGData(x.astype(np.float32), y, ["a", "b"], fs=64, splits=splits)

    def ledger(policy: str, fidelity: str):
        torch.manual_seed(0)
        net = build_model("small_cnn", 2, 2)
        cfg = TrainConfig(epochs=2, batch_size=8, seed=0, device="cpu", fidelity=fidelity)
        params = {"gamma": 0.5} if policy == "srd" else {}
        res = train(net, data, make_policy(policy, warm_up=1, **params), cfg, progress=False)
        return res.ledger.epoch_table(n_train=32)

    kit, ref = ledger("dbpd", "kit"), ledger("dbpd", "reference")
    assert kit["scored"].tolist() == [0, 32] and ref["scored"].tolist() == [32, 32]
    srd_kit, srd_ref = ledger("srd", "kit"), ledger("srd", "reference")
    assert srd_kit["scored"].tolist() == [0, 0]
    assert srd_ref["scored"].tolist() == [0, 32]              # epoch 1 keeps int(0.5 * 8) = 4 per batch: 4 steps
    assert srd_ref["trained"].tolist() == srd_kit["trained"].tolist() == [32, 16]
