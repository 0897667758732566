"""Build backbones by name: ``build_model``, ``list_models``, ``model_info``."""
from __future__ import annotations

import inspect
from typing import Any

import torch

from erts_kit._validation import check_choice, check_int
from erts_kit.models.backbones2d import ResNet18_2d
from erts_kit.models.base import ECGModel
from erts_kit.models.cnn1d import SmallCNN1d
from erts_kit.models.efficientnetv2_2d import EfficientNetV2S_2d
from erts_kit.models.inception1d import Inception1d
from erts_kit.models.mobilenetv2_2d import MobileNetV2_2d
from erts_kit.models.resnet1d import ResNet1dWang

MODELS: dict[str, type[ECGModel]] = {
    "small_cnn": SmallCNN1d,
    "resnet1d_wang": ResNet1dWang,
    "inception1d": Inception1d,
    "resnet18_2d": ResNet18_2d,
    "mobilenetv2_2d": MobileNetV2_2d,
    "efficientnetv2s_2d": EfficientNetV2S_2d,
}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`, 1-D models first.

    Example:
        >>> list_models()[:3]
        ['small_cnn', 'resnet1d_wang', 'inception1d']
    """
    return list(MODELS)


def _extra_kwargs(cls: type[ECGModel]) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "n_leads", "n_classes")]


def model_options(name: str) -> list[str]:
    """The options a backbone takes beyond ``n_leads, n_classes, n_aux`` (what a config's ``model:`` may hold).

    Example:
        >>> model_options("small_cnn")
        ['width', 'dropout']
    """
    check_choice("model name", name, MODELS)
    return _extra_kwargs(MODELS[name])


def build_model(name: str, n_leads: int, n_classes: int, n_aux: int = 0, **kwargs: Any) -> ECGModel:
    """Build a freshly initialised backbone by name (seed with ``torch.manual_seed`` beforehand).

    Args:
        name: one of :func:`list_models` (``small_cnn`` is the teaching default; ``resnet18_2d``,
            ``mobilenetv2_2d`` and ``efficientnetv2s_2d`` are the ERTS paper's backbones).
        n_leads: input leads (12 for PTB-XL / CinC 2020, 1-2 for MIT-BIH beats).
        n_classes: output logits.
        n_aux: per-sample auxiliary features fused into the head (``ECGData.aux`` width, e.g. 4 RR
            features of ``load_mitbih(context="rr")``); 0: the model takes the signal only.
        **kwargs: model-specific options (e.g. ``width`` and ``dropout`` for ``small_cnn``).

    Returns:
        An :class:`~erts_kit.models.base.ECGModel` (in train mode) taking (B, n_leads, T) (and aux
        (B, n_aux) when ``n_aux > 0``: ``model(x, aux)``).

    Raises:
        ValueError: unknown name (the message lists the valid ones) or n_leads/n_classes < 1.
        TypeError: an option the model does not accept (the message lists those it does).

    Example:
        >>> m = build_model("small_cnn", n_leads=12, n_classes=5)
        >>> m.cam_layer_name, m.input_kind
        ('features.3', '1d')
    """
    check_choice("model name", name, MODELS)
    check_int("n_leads", n_leads, minimum=1)
    check_int("n_classes", n_classes, minimum=1)
    check_int("n_aux", n_aux, minimum=0)
    cls = MODELS[name]
    allowed = _extra_kwargs(cls)
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise TypeError(f"Model {name!r} got unknown option(s) {', '.join(map(repr, unknown))}: "
                        f"expected any of {', '.join(map(repr, allowed)) or 'none'}.")
    model = cls(n_leads, n_classes, **kwargs)
    model.enable_aux(n_aux)
    model.model_name = name
    return model


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``).

    Example:
        >>> count_parameters(torch.nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_info(model: ECGModel, n_timesteps: int | None = None) -> dict[str, Any]:
    """Summary of a backbone: name, parameter count, Grad-CAM layer, input kind.

    Args:
        model: a model from :func:`build_model` (any :class:`ECGModel` works).
        n_timesteps: if given, one eval-mode forward of a zero input (1, n_leads, n_timesteps)
            adds ``cam_shape``, the Grad-CAM layer's output shape without the batch axis
            (train/eval mode is restored afterwards).

    Returns:
        dict with ``name, class, params, trainable_params, cam_layer, input_kind, n_leads, n_classes``
        ``n_aux`` (+ ``cam_shape``).

    Example:
        >>> info = model_info(build_model("small_cnn", 12, 5), n_timesteps=1000)
        >>> info["cam_layer"], info["input_kind"], info["cam_shape"]
        ('features.3', '1d', (128, 125))
    """
    if not isinstance(model, ECGModel):
        raise TypeError(f"Expected an erts_kit ECGModel (from build_model), got {type(model).__name__}.")
    info: dict[str, Any] = {
        "name": getattr(model, "model_name", type(model).__name__),
        "class": type(model).__name__,
        "params": count_parameters(model),
        "trainable_params": count_parameters(model, trainable_only=True),
        "cam_layer": model.cam_layer_name,
        "input_kind": model.input_kind,
        "n_leads": model.n_leads,
        "n_classes": model.n_classes,
        "n_aux": getattr(model, "n_aux", 0),
    }
    if n_timesteps is not None:
        check_int("n_timesteps", n_timesteps, minimum=1)
        was_training = model.training
        device = next(model.parameters()).device
        try:
            model.eval()
            with torch.no_grad():
                a = model.forward_features(torch.zeros(1, model.n_leads, n_timesteps, device=device))
        finally:
            model.train(was_training)
        info["cam_shape"] = tuple(a.shape[1:])
    return info
