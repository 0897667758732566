"""Fidelity presets: the kit's own choices (``"kit"``, the default) or the ERTS reference code's (``"reference"``).

The reference code (github Veerendhrakumardangeti/xai-ecg-dropout) differs from the kit in seven
places. Each is a switch of its own, and ``fidelity`` sets them all at once:

=======================  ===========================  ==========================================  ===================
departure                kit (default)                reference code                              where the switch is
=======================  ===========================  ==========================================  ===================
lead padding (2-D)       none                         10 zero rows above and below the leads      model ``lead_padding``
Grad-CAM ReLU order      lead mean, then ReLU         ReLU per row, then lead mean                ``cam_relu_order``
DBPD rescue              none                         first sample of each class w/o candidate    policy ``rescue``
loss reduction           / sum of kept weights        / number of kept samples                    ``loss_reduction``
cb weight, empty class   0                            (1 - beta) / 1e-8 (huge)                    ``cb_empty_class``
MobileNetV2 head         paper head                   Dropout(0.3) before the paper head          model ``head_input_dropout``
scoring forward          eval mode, only when needed  train mode, every epoch; SRD: after a step  ``scoring_mode``, ``reference_passes``
scoring precision, CUDA  fp16 autocast (with ``amp``)  fp32                                        ``scoring_fp32``
=======================  ===========================  ==========================================  ===================

:class:`~erts_kit.training.TrainConfig` carries ``fidelity`` and the training-side switches (``None`` =
take the preset's value); :func:`resolve_fidelity` gives the values a run uses. The model and policy
switches are constructor options; :func:`fidelity_model_kwargs` and :func:`fidelity_policy_params` give
the reference's values, which :func:`erts_kit.results.run_grid` applies when its config says
``fidelity: reference`` (``erts-kit compare --fidelity reference``, ``--config paper``).

The reference's XAI-DBPD has no DBPD rescue (only its plain DBPD has), so the reference preset turns
``rescue`` on for ``dbpd`` only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .._validation import check_choice

__all__ = ["FIDELITIES", "KIT", "REFERENCE", "FidelitySwitches", "check_fidelity_fields", "fidelity_model_kwargs",
           "fidelity_policy_params", "reference_passes", "resolve_fidelity"]

FIDELITIES = ("kit", "reference")
_CHOICES = {"cam_relu_order": ("after_mean", "before_mean"), "loss_reduction": ("weight_sum", "mean"),
            "cb_empty_class": ("zero", "reference"), "scoring_mode": ("eval", "train")}
_FLAGS = ("reference_passes", "scoring_fp32")
_BACKBONES_2D = ("resnet18_2d", "mobilenetv2_2d", "efficientnetv2s_2d")


@dataclass(frozen=True)
class FidelitySwitches:
    """The training-side behaviours a run uses (see the module table)."""

    cam_relu_order: str
    loss_reduction: str
    cb_empty_class: str
    scoring_mode: str
    reference_passes: bool
    scoring_fp32: bool


KIT = FidelitySwitches("after_mean", "weight_sum", "zero", "eval", False, False)
REFERENCE = FidelitySwitches("before_mean", "mean", "reference", "train", True, True)


def check_fidelity_fields(config: Any) -> None:
    """Validate ``config.fidelity`` and the switches it carries (``None`` or an allowed value).

    Example:
        >>> from types import SimpleNamespace
        >>> check_fidelity_fields(SimpleNamespace(fidelity="paper"))
        Traceback (most recent call last):
        ...
        ValueError: Unknown fidelity 'paper': expected one of 'kit', 'reference'.
    """
    check_choice("fidelity", config.fidelity, FIDELITIES)
    for name, allowed in _CHOICES.items():
        value = getattr(config, name, None)
        if value is not None:
            check_choice(name, value, allowed)
    for name in _FLAGS:
        value = getattr(config, name, None)
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"Expected {name} as True, False or None (None: as fidelity says), got {value!r}.")


def resolve_fidelity(config: Any) -> FidelitySwitches:
    """The switches a run uses: the preset named by ``config.fidelity``, then every switch set on ``config``.

    Example:
        >>> from erts_kit.training import TrainConfig
        >>> resolve_fidelity(TrainConfig()).scoring_mode
        'eval'
        >>> s = resolve_fidelity(TrainConfig(fidelity="reference", loss_reduction="weight_sum"))
        >>> s.scoring_mode, s.cam_relu_order, s.loss_reduction
        ('train', 'before_mean', 'weight_sum')
    """
    check_fidelity_fields(config)
    preset = REFERENCE if config.fidelity == "reference" else KIT
    set_here = {f.name: getattr(config, f.name, None) for f in fields(FidelitySwitches)}
    return replace(preset, **{k: v for k, v in set_here.items() if v is not None})


def fidelity_model_kwargs(model: str, fidelity: str = "kit") -> dict[str, Any]:
    """Model options of a fidelity preset: the reference pads 2-D inputs and adds MobileNetV2's extra dropout.

    Example:
        >>> fidelity_model_kwargs("mobilenetv2_2d", "reference")
        {'lead_padding': 10, 'head_input_dropout': 0.3}
        >>> fidelity_model_kwargs("resnet18_2d"), fidelity_model_kwargs("small_cnn", "reference")
        ({}, {})
    """
    check_choice("fidelity", fidelity, FIDELITIES)
    if fidelity == "kit" or model not in _BACKBONES_2D:
        return {}
    kwargs: dict[str, Any] = {"lead_padding": 10}
    if model == "mobilenetv2_2d":
        kwargs["head_input_dropout"] = 0.3
    return kwargs


def fidelity_policy_params(policy: str, fidelity: str = "kit") -> dict[str, Any]:
    """Policy options of a fidelity preset: the reference's plain DBPD rescues classes without a candidate.

    Example:
        >>> fidelity_policy_params("dbpd", "reference"), fidelity_policy_params("xai_dbpd", "reference")
        ({'rescue': True}, {})
    """
    check_choice("fidelity", fidelity, FIDELITIES)
    return {"rescue": True} if fidelity == "reference" and policy == "dbpd" else {}


def reference_passes(policy: Any, epoch: int) -> tuple[bool, bool]:
    """The reference code's scoring forwards that the kit's policy would not ask for: ``(before, after)`` a step.

    In the reference every DBPD/SMRD run and every XAI-* run scores each batch with a no-grad forward
    in train mode in *every* epoch, warm-up and revision included (``before``); its SRD, which needs
    no score, runs a no-grad train-mode forward of the whole batch after each step of a selection epoch
    (``after``). These forwards move BatchNorm running statistics. The full-data policy runs none.

    Example:
        >>> from erts_kit.selection import make_policy
        >>> reference_passes(make_policy("dbpd"), 0), reference_passes(make_policy("srd"), 7)
        ((True, False), (False, True))
        >>> reference_passes(make_policy("srd"), 0), reference_passes(make_policy("full"), 3)
        ((False, False), (False, False))
    """
    if getattr(policy, "base", None) is not None:   # XAI-*: the scoring forward precedes every branch
        return True, False
    stage = getattr(policy, "stage", None)
    if stage is None:                               # full (or a custom policy without a PDD schedule)
        return False, False
    if getattr(policy, "scores", False):
        return True, False
    return False, stage(epoch) == "select"
