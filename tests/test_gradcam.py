"""Grad-CAM: hand-computed maps, fast engine == Captum, state left untouched, 1-D and 2-D backbones."""
from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from erts_kit.explain import FOCUS_SCORES, focus_score, gradcam, gradcam_and_logits
from erts_kit.models.base import ECGModel


class Linear1d(ECGModel):
    """Identity cam layer + global average pool + Linear: map[w] = sum_c W[t, c] / W_len * x[c, w]."""

    cam_layer_name = "feat"

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__(n_leads=weight.shape[1], n_classes=weight.shape[0])
        self.feat = nn.Identity()
        self.fc = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(weight)

    def forward_features(self, x):
        return self.feat(x)

    def forward_head(self, a):
        return self.fc(a.mean(-1))


class Conv1dNet(ECGModel):
    """Conv trunk with BatchNorm, dropout in the head: exercises eval mode and the parameter grads."""

    cam_layer_name = "trunk"

    def __init__(self, n_leads: int = 3, n_classes: int = 4) -> None:
        super().__init__(n_leads, n_classes)
        self.trunk = nn.Sequential(nn.Conv1d(n_leads, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(),
                                   nn.Conv1d(8, 6, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, n_classes))

    def forward_features(self, x):
        return self.trunk(x)

    def forward_head(self, a):
        return self.head(a.mean(-1))


class Conv2dNet(ECGModel):
    """2-D backbone: input (B, leads, T) viewed as (B, 1, leads, T); cam layer output (B, C, leads, T/2)."""

    input_kind = "2d"
    cam_layer_name = "trunk"

    def __init__(self, n_leads: int = 3, n_classes: int = 4) -> None:
        super().__init__(n_leads, n_classes)
        self.trunk = nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(),
                                   nn.Conv2d(5, 4, 3, stride=(1, 2), padding=1))
        self.fc = nn.Linear(4, n_classes)

    def forward_features(self, x):
        return self.trunk(x.unsqueeze(1))

    def forward_head(self, a):
        return self.fc(torch.relu(a).mean((-2, -1)))


class Identity2d(ECGModel):
    input_kind = "2d"
    cam_layer_name = "feat"

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__(n_leads=2, n_classes=weight.shape[0])
        self.feat = nn.Identity()
        self.fc = nn.Linear(1, weight.shape[0], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(weight)

    def forward_features(self, x):
        return self.feat(x.unsqueeze(1))  # (B, 1, leads, T)

    def forward_head(self, a):
        return self.fc(a.mean((-2, -1)))


def _randomised(model: nn.Module) -> nn.Module:
    """Give BatchNorm non-trivial running statistics so eval and train mode differ."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    return model


# ---------------------------------------------------------------- hand-computed maps
def test_hand_computed_1d_map():
    w = torch.tensor([[1.0, -1.0], [0.0, 2.0]])  # class 0: lead0 - lead1; class 1: 2 * lead1
    x = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]]])
    m = Linear1d(w)
    # d logit_0 / d a[c, w] = w[0, c] / 4 -> map = (1 * x0 - 1 * x1) / 4
    for engine in ("fast", "captum"):
        signed = gradcam(m, x, 0, engine=engine, relu=False)
        assert torch.allclose(signed, torch.tensor([[0.25, 0.0, -0.5, 0.0]]))
        assert torch.allclose(gradcam(m, x, 0, engine=engine), torch.tensor([[0.25, 0.0, 0.0, 0.0]]))
        assert torch.allclose(gradcam(m, x, 1, engine=engine), torch.tensor([[0.0, 0.0, 1.0, 0.0]]))


def test_hand_computed_2d_map_mean_over_leads_and_per_lead():
    m = Identity2d(torch.tensor([[2.0]]))
    x = torch.tensor([[[1.0, 3.0], [-1.0, 5.0]]])  # (1, 2 leads, 2)
    # alpha = 2 / (H * W) = 0.5 -> per-lead map = 0.5 * x; lead mean -> [0, 2]
    per_lead = gradcam(m, x, 0, relu=False, per_lead=True)
    assert torch.allclose(per_lead, torch.tensor([[[0.5, 1.5], [-0.5, 2.5]]]))
    assert torch.allclose(gradcam(m, x, 0, relu=False), torch.tensor([[0.0, 2.0]]))
    assert torch.allclose(gradcam(m, x, 0, engine="captum", relu=False, per_lead=True), per_lead)
    # ReLU comes after the lead mean (paper order): mean(0.5, -0.5) = 0, not mean(relu) = 0.25
    assert torch.allclose(gradcam(m, x, 0), torch.tensor([[0.0, 2.0]]))


def test_all_negative_map_relus_to_zero_and_scores_are_defined():
    m = Linear1d(torch.tensor([[0.0, -1.0]]))
    x = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 2.0, 1.0]]])
    signed = gradcam(m, x, 0, relu=False)
    assert (signed < 0).all()
    cam = gradcam(m, x, 0)
    assert torch.equal(cam, torch.zeros(1, 4))
    for name in FOCUS_SCORES:
        for maps in (signed, cam):
            s = focus_score(maps, name)
            assert not torch.isnan(s).any()
            assert s.item() == 0.0, name


def test_upsample_is_linear_to_input_length():
    m = Identity2d(torch.tensor([[4.0]]))
    x = torch.tensor([[[0.0, 4.0], [0.0, 4.0]]])  # map at layer resolution [0, 4] (alpha = 1)
    up = gradcam(m, x, 0, upsample=True)
    assert up.shape == (1, 2)
    m1 = Conv1dNet()
    x1 = torch.randn(2, 3, 20)
    low = gradcam(m1, x1, 0)
    up1 = gradcam(m1, x1, 0, upsample=True)
    assert low.shape == (2, 10) and up1.shape == (2, 20)
    ref = torch.nn.functional.interpolate(low[:, None], size=20, mode="linear", align_corners=False)[:, 0]
    assert torch.allclose(up1, ref)
    m2 = Conv2dNet()
    assert gradcam(m2, x1, 1, upsample=True, per_lead=True).shape == (2, 3, 20)


# ---------------------------------------------------------------- fast == captum
@pytest.mark.parametrize("factory", [Conv1dNet, Conv2dNet], ids=["1d", "2d"])
@pytest.mark.parametrize("relu", [True, False])
def test_fast_equals_captum(factory, relu):
    m = _randomised(factory())
    x = torch.randn(6, 3, 24)
    t = torch.tensor([0, 1, 2, 3, 0, 1])
    fast = gradcam(m, x, t, engine="fast", relu=relu)
    ref = gradcam(m, x, t, engine="captum", relu=relu)
    assert fast.dtype == torch.float32 and fast.shape == ref.shape == (6, 12)
    assert torch.allclose(fast, ref, atol=1e-5)
    assert fast.abs().sum() > 0


def test_target_none_explains_the_predicted_class():
    m = _randomised(Conv1dNet()).eval()
    x = torch.randn(5, 3, 16)
    pred = m(x).argmax(1)
    assert torch.allclose(gradcam(m, x), gradcam(m, x, pred))
    assert torch.allclose(gradcam(m, x, engine="captum"), gradcam(m, x, pred, engine="captum"), atol=1e-5)
    assert torch.allclose(gradcam(m, x, chunk=2), gradcam(m, x, pred), atol=1e-6)  # argmax per micro-batch


def test_train_mode_pass_is_never_split():
    # eval_mode=False with BatchNorm in train mode: the map depends on the whole batch, so no micro-batches
    m = _randomised(Conv1dNet()).train()
    m.head[2].p = 0.0
    x, t = torch.randn(6, 3, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    whole = gradcam(m, x, t, relu=False, eval_mode=False, chunk=None)
    assert torch.allclose(gradcam(m, x, t, relu=False, eval_mode=False), whole, atol=1e-6)  # auto: whole batch
    with pytest.raises(ValueError, match="train mode"):
        gradcam(m, x, t, eval_mode=False, chunk=2)


def test_gradcam_and_logits_shares_the_forward():
    m = _randomised(Conv2dNet()).train()
    x = torch.randn(4, 3, 16)
    t = torch.tensor([3, 2, 1, 0])
    maps, logits = gradcam_and_logits(m, x, t)
    assert torch.allclose(maps, gradcam(m, x, t, relu=False), atol=1e-6)
    m.eval()
    with torch.no_grad():
        assert torch.allclose(logits, m(x), atol=1e-6)
    with pytest.raises(ValueError, match="needs target"):
        gradcam_and_logits(m, x, None)


# ---------------------------------------------------------------- state left exactly as it was
@pytest.mark.parametrize("engine", ["fast", "captum"])
def test_mode_and_grads_are_restored(engine):
    m = _randomised(Conv1dNet()).train()
    m.trunk[1].eval()  # a frozen BatchNorm inside a training model must stay frozen
    params = list(m.parameters())
    for i, p in enumerate(params):
        p.grad = None if i % 2 else torch.full_like(p, float(i))
    grads_before = [p.grad for p in params]
    values_before = [None if g is None else g.clone() for g in grads_before]
    modes_before = [mod.training for mod in m.modules()]
    running_before = m.trunk[1].running_mean.clone()
    gradcam(m, torch.randn(4, 3, 16), torch.tensor([0, 1, 2, 3]), engine=engine)
    assert [mod.training for mod in m.modules()] == modes_before
    for p, g, v in zip(params, grads_before, values_before):
        assert p.grad is g
        assert (v is None and p.grad is None) or torch.equal(p.grad, v)
    assert torch.equal(m.trunk[1].running_mean, running_before)


def test_eval_mode_flag_controls_the_mode_used():
    m = _randomised(Conv1dNet())
    x = torch.randn(4, 3, 16)
    t = torch.tensor([0, 1, 2, 3])
    m.eval()
    ref = gradcam(m, x, t, relu=False)
    m.train()
    assert torch.allclose(gradcam(m, x, t, relu=False), ref)  # eval_mode=True: same as eval model
    m.head[2].p = 0.0  # deterministic head, but BatchNorm in train mode uses batch statistics
    assert not torch.allclose(gradcam(m, x, t, relu=False, eval_mode=False), ref, atol=1e-4)
    assert m.training


def test_safe_inside_a_training_step():
    m = _randomised(Conv1dNet()).train()
    m.head[2].p = 0.0
    x, y = torch.randn(4, 3, 16), torch.tensor([0, 1, 2, 3])

    def step(with_cam: bool) -> list[torch.Tensor]:
        m.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(m(x), y)
        if with_cam:
            gradcam(m, x, y)
            gradcam(m, x, y, engine="captum")
        loss.backward()
        return [p.grad.clone() for p in m.parameters()]

    state = {k: v.clone() for k, v in m.state_dict().items()}
    plain = step(False)
    m.load_state_dict(state)
    with_cam = step(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, with_cam))


def test_works_under_no_grad_and_rejects_inference_mode():
    m = _randomised(Conv1dNet())
    x = torch.randn(2, 3, 16)
    with torch.no_grad():
        a = gradcam(m, x, 0)
    assert torch.allclose(a, gradcam(m, x, 0))
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        gradcam(m, x, 0)


def test_unwraps_compiled_module():
    m = _randomised(Conv1dNet())
    x = torch.randn(3, 3, 16)
    compiled = torch.compile(m)  # lazy: nothing is compiled until called, and gradcam never calls it
    assert torch.allclose(gradcam(compiled, x, 1, engine="captum"), gradcam(m, x, 1, engine="captum"))
    assert torch.allclose(gradcam(compiled, x, 1), gradcam(m, x, 1))


def test_autocast_returns_float32_maps():
    m = _randomised(Conv1dNet()).eval()
    x = torch.randn(4, 3, 32)
    t = torch.tensor([0, 1, 2, 3])
    ref = gradcam(m, x, t, relu=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp = gradcam(m, x, t, relu=False)
        maps, logits = gradcam_and_logits(m, x, t)
    assert amp.dtype == torch.float32 and maps.dtype == torch.float32
    assert logits.shape == (4, 4) and torch.allclose(maps, ref, atol=0.05 * ref.abs().max().item())
    assert torch.allclose(amp, ref, atol=0.05 * ref.abs().max().item())


# ---------------------------------------------------------------- input errors
def test_errors_say_what_to_fix():
    m = Conv1dNet()
    x = torch.randn(2, 3, 16)
    with pytest.raises(ValueError, match="one of 'fast', 'captum'"):
        gradcam(m, x, 0, engine="pytorch-grad-cam")
    with pytest.raises(ValueError, match=r"in \[0, 3\]"):
        gradcam(m, x, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        gradcam(m, x, torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer class ids"):
        gradcam(m, x, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="per_lead=True needs a 2-D"):
        gradcam(m, x, 0, per_lead=True)
    with pytest.raises(ValueError, match="batch axis"):
        gradcam(m, x[0], 0)
    with pytest.raises(TypeError, match="ECGModel"):
        gradcam(nn.Conv1d(3, 2, 3), x, 0)


# ---------------------------------------------------------------- every registered backbone
_HAS_REGISTRY = importlib.util.find_spec("erts_kit.models") is not None
from erts_kit.models import build_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_backbone_fast_equals_captum(name):
    # batch 20 > the CPU micro-batch (16): the fast engine's trunk runs split (16 + 4, and 3 at a time)
    torch.manual_seed(0)
    m = build_model(name, n_leads=2, n_classes=3).eval()
    x = torch.randn(20, 2, 256)
    t = torch.arange(20) % 3
    ref = gradcam(m, x, t, engine="captum", relu=False)
    for chunk in ("auto", 3, None):
        fast = gradcam(m, x, t, relu=False, chunk=chunk)
        assert fast.dim() == 2 and fast.shape[0] == 20
        assert torch.allclose(fast, ref, atol=1e-5), (chunk, (fast - ref).abs().max())
    maps, logits = gradcam_and_logits(m, x, t)
    assert torch.allclose(maps, ref, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(logits, m(x), atol=1e-5)
    params = list(m.parameters())
    assert all(p.grad is None for p in params)
