"""Backbones: shapes on every dataset's input, the trunk/head split at the Grad-CAM layer, sizes, errors."""
from __future__ import annotations

import math

import pytest
import torch
from captum.attr import LayerGradCam
from torch import nn

from erts_kit.models import ECGModel, build_model, count_parameters, list_models, model_info

MODELS_1D = ["small_cnn", "resnet1d_wang", "inception1d"]
MODELS_2D = ["resnet18_2d", "mobilenetv2_2d", "efficientnetv2s_2d"]
# (leads, T): PTB-XL 100 Hz, CinC 2020 (Georgia) 500 Hz, MIT-BIH beat windows
SHAPES = {"ptbxl": (12, 1000), "cinc": (12, 5000), "mitbih_1lead": (1, 256), "mitbih_2lead": (2, 360)}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Run this module single-threaded: on the shared 2-core box, 2 OpenMP threads under load are 10-50x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def built() -> dict:
    """One eval-mode instance per (name, leads), built once for the whole module (the 2-D ones are heavy)."""
    torch.manual_seed(0)
    cache: dict = {}

    def get(name: str, leads: int) -> ECGModel:
        if (name, leads) not in cache:
            cache[(name, leads)] = build_model(name, n_leads=leads, n_classes=5).eval()
        return cache[(name, leads)]
    return get


def test_list_models_names_the_agreed_backbones():
    assert list_models() == MODELS_1D + MODELS_2D


def _shape_cases() -> list:
    cases = [pytest.param(name, shape, id=f"{name}-{shape}") for name in MODELS_1D for shape in SHAPES]
    for name in MODELS_2D:  # heavy: batch 2 and one MIT-BIH shape (the 1-lead "image" of height 1)
        cases += [pytest.param(name, shape, id=f"{name}-{shape}") for shape in ("ptbxl", "cinc", "mitbih_1lead")]
    return cases


@pytest.mark.parametrize(("name", "shape"), _shape_cases())
def test_forward_on_every_dataset_shape(built, name, shape):
    leads, t = SHAPES[shape]
    model = built(name, leads)
    x = torch.randn(2, leads, t)
    with torch.no_grad():
        a = model.forward_features(x)
        logits = model.forward_head(a)  # == model(x), checked below on a smaller input
    assert logits.shape == (2, 5)
    assert torch.isfinite(logits).all()
    if name == "small_cnn":
        assert a.shape == (2, 128, t // 8) and a.shape[-1] >= t / 16
    elif name == "resnet1d_wang":
        assert a.shape == (2, 128, math.ceil(t / 4))
    elif name == "inception1d":
        assert a.shape == (2, 128, t)
    else:  # (B, C, H along leads, W along time), overall stride 16 for ResNet-18 layer3, 32 for the others
        stride = 16 if name == "resnet18_2d" else 32
        assert a.shape[0] == 2 and a.shape[2:] == (math.ceil(leads / stride), math.ceil(t / stride))


@pytest.mark.parametrize("name", MODELS_1D + MODELS_2D)
def test_cam_layer_output_is_forward_features_and_head_completes_forward(built, name):
    model = built(name, 12)
    x = torch.randn(2, 12, 128)
    hooked = []
    handle = model.cam_layer.register_forward_hook(lambda mod, inp, out: hooked.append(out.detach().clone()))
    try:
        with torch.no_grad():
            logits = model(x)
            a = model.forward_features(x)
            split = model.forward_head(a)
    finally:
        handle.remove()
    assert len(hooked) == 2  # the layer ran once in forward and once in forward_features
    torch.testing.assert_close(hooked[0], a, rtol=0, atol=0)
    torch.testing.assert_close(logits, split, rtol=0, atol=0)
    assert model.cam_layer is model.get_submodule(model.cam_layer_name)


@pytest.mark.parametrize("name", ["mobilenetv2_2d", "efficientnetv2s_2d"])
def test_2d_split_matches_the_plain_sequential_network(built, name):
    # the whole `features` Sequential, pooled, then the head: what torchvision's forward does
    model = built(name, 12)
    x = torch.randn(2, 12, 96)
    with torch.no_grad():
        f = model.features(x.unsqueeze(1))
        ref = model.head(torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1))
        torch.testing.assert_close(model(x), ref)
    assert model.cam_layer is model.features[-2]


@pytest.mark.parametrize("name", MODELS_1D + MODELS_2D)
def test_split_gives_captum_layer_gradcam(built, name):
    # Trunk without autograd + head with autograd must reproduce Captum's LayerGradCam at cam_layer
    # (this fails if the head modified the activations in place or the split sat at another layer).
    model = built(name, 12)
    x = torch.randn(2, 12, 64)
    target = torch.tensor([1, 3])
    with torch.no_grad():
        a = model.forward_features(x)
    a.requires_grad_(True)
    logits = model.forward_head(a)
    (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), a)
    dims = tuple(range(2, a.dim()))
    ours = (grad.mean(dim=dims, keepdim=True) * a).sum(dim=1, keepdim=True).detach()
    theirs = LayerGradCam(model, model.cam_layer).attribute(x, target=target, relu_attributions=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_parameter_counts_for_12_leads_5_classes(built):
    # 2-D: torchvision's published counts (resnet18 11,689,512; mobilenet_v2 3,504,872; efficientnet_v2_s
    # 21,458,488), minus the 1000-class classifier, minus the stem's two missing input channels, plus the
    # paper head Linear(F,128)+Linear(128,5) -> exact match shows the block structure is the same.
    head = lambda f: f * 128 + 128 + 128 * 5 + 5
    assert count_parameters(built("resnet18_2d", 12)) == 11_689_512 - 513_000 - 2 * 64 * 49 + head(512)
    assert count_parameters(built("mobilenetv2_2d", 12)) == 3_504_872 - 1_281_000 - 2 * 32 * 9 + head(1280)
    assert count_parameters(built("efficientnetv2s_2d", 12)) == 21_458_488 - 1_281_000 - 2 * 24 * 9 + head(1280)
    assert 50_000 < count_parameters(built("small_cnn", 12)) < 200_000
    assert 400_000 < count_parameters(built("resnet1d_wang", 12)) < 600_000
    assert 400_000 < count_parameters(built("inception1d", 12)) < 600_000


def test_model_info_reports_cam_layer_and_restores_mode():
    model = build_model("resnet18_2d", n_leads=12, n_classes=5)
    assert model.training
    info = model_info(model, n_timesteps=1000)
    assert model.training  # restored after the eval-mode probe
    assert info["name"] == "resnet18_2d" and info["cam_layer"] == "layer3" and info["input_kind"] == "2d"
    assert info["params"] == info["trainable_params"] == count_parameters(model)
    assert info["cam_shape"] == (256, 1, 63)  # 12 x 1000 image downsampled by 16 (ceil): 1 x 63
    assert "cam_shape" not in model_info(model)


def test_build_model_is_seeded_and_passes_options():
    torch.manual_seed(3)
    a = build_model("small_cnn", 12, 5, width=8)
    torch.manual_seed(3)
    b = build_model("small_cnn", 12, 5, width=8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.eval().forward_features(torch.zeros(1, 12, 64)).shape == (1, 32, 8)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"Unknown model name 'resnet50'.*'small_cnn'.*'efficientnetv2s_2d'"):
        build_model("resnet50", 12, 5)
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'depth'.*'width'"):
        build_model("small_cnn", 12, 5, depth=3)
    with pytest.raises(ValueError, match="n_leads >= 1"):
        build_model("small_cnn", 0, 5)
    model = build_model("small_cnn", 12, 5)
    with pytest.raises(ValueError, match=r"built for 12 leads, got input with 2 leads.*n_leads=2"):
        model(torch.zeros(1, 2, 1000))
    with pytest.raises(ValueError, match=r"got \(12, 1000\).*x\[None\]"):
        model.forward_features(torch.zeros(12, 1000))
    with pytest.raises(ValueError, match="at least 8 time steps"):
        model(torch.zeros(1, 12, 4))
    with pytest.raises(ValueError, match="built for 12 leads"):
        build_model("mobilenetv2_2d", 12, 5)(torch.zeros(1, 1, 256))
    with pytest.raises(TypeError, match="ECGModel"):
        model_info(nn.Linear(2, 2))


def test_small_cnn_learns_a_tiny_batch():
    torch.manual_seed(0)
    n, t = 8, 128
    y = torch.arange(n) % 2
    time = torch.linspace(0, 1, t)
    # class 1 carries a 10 Hz-like oscillation on every lead, class 0 only noise
    x = 0.5 * torch.randn(n, 12, t) + y[:, None, None] * torch.sin(2 * math.pi * 10 * time)
    model = build_model("small_cnn", n_leads=12, n_classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    with torch.no_grad():
        before = loss_fn(model.eval()(x), y).item()
    model.train()
    for _ in range(10):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        after = loss_fn(model.eval()(x), y).item()
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("shape", [(3, 64, 6, 500), (2, 5, 7, 9)])
def test_no_grad_fast_maxpool_gives_the_plain_maxpool_values_and_gradients(shape):
    from erts_kit.models._layers import NoGradFastMaxPool2d

    torch.manual_seed(0)
    x = torch.randn(*shape).relu()  # ReLU'd, as in the ResNet stem: many tied zeros
    fast, plain = NoGradFastMaxPool2d(3, stride=2, padding=1), nn.MaxPool2d(3, stride=2, padding=1)
    with torch.no_grad():
        out = fast(x)
    assert out.is_contiguous() and torch.equal(out, plain(x))
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn_like(out)
    fast(xa).backward(g)
    plain(xb).backward(g)
    assert torch.equal(xa.grad, xb.grad)


def test_resnet18_2d_no_grad_forward_equals_the_autograd_forward():
    torch.manual_seed(0)
    m = build_model("resnet18_2d", n_leads=12, n_classes=5).eval()
    x = torch.randn(4, 12, 200)
    with torch.no_grad():
        quick = m(x)
    assert torch.equal(quick, m(x).detach())
