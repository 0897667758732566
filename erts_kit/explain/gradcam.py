"""Batched Grad-CAM for ECG models at ``model.cam_layer``: Captum's reference and a fast fused engine.

Grad-CAM (Selvaraju et al., 2017) weights each channel of a layer's activations ``a`` (B, C, *S) by
the spatial mean of the gradient of the target logit with respect to ``a``, and sums over channels:
``map = sum_c mean_S(d y_t / d a_c) * a_c``, a map with the layer's own spatial size S.

Two engines compute the same map:

* ``engine="captum"``: Captum's ``LayerGradCam`` hooked on ``model.cam_layer`` (the reference). It runs
  the whole model with autograd, so the graph reaches every parameter of the trunk.
* ``engine="fast"``: the trunk runs under ``torch.no_grad()``, the activations are detached and made
  leaves, and only the head runs with autograd; ``torch.autograd.grad`` then gives d y_t / d a without
  ever touching a parameter's ``.grad``. Same numbers (tested to 1e-5), a fraction of the cost, and the
  same forward also yields the logits (:func:`gradcam_and_logits`, what the ERTS training loop uses).
  On the CPU in eval mode the batch goes through in micro-batches of 16 samples
  (:mod:`erts_kit.models.inference`): no sample's map depends on another, and the activations stay
  small enough for the caches, which roughly halves the time of the wide networks.

ERTS conventions (arXiv 2606.12252) and where erts_kit departs from Captum's defaults:

* 1-D backbones: layer output (B, C, W) -> map (B, W). 2-D backbones (the paper's 12 x T "image"):
  layer output (B, C, H, W) with H along the leads -> map (B, H, W), then the **mean over H** (the lead
  axis), as in the paper, unless ``per_lead=True``.
* Where ReLU goes is a choice, ``relu_order``. The kit's default ``"after_mean"`` averages the signed
  per-lead maps over H and then applies ReLU (negative evidence in one row can cancel positive evidence
  in another). The reference code does the opposite, ``"before_mean"``: ReLU per row, then the mean
  over H (what Captum's ``relu_attributions=True`` followed by a mean would give). The kit's order is
  a literal reading of the paper's one-line description ("reduced to one value per time step,
  ReLU'd"); the reference code, which produced the paper's numbers, does ReLU first.
  ``fidelity="reference"`` (:mod:`erts_kit.training.fidelity`) picks the reference's order. With one row at the layer (a 12-lead input without ``lead_padding``) both orders
  give the same map. We call Captum with ``relu_attributions=False`` and apply the same reduction and
  ReLU to both engines.
* The map is computed with the model in eval mode by default (as the reference code does) and the
  model's train/eval flags and every parameter's ``.grad`` are restored exactly afterwards, so the
  call is safe inside a training step. With ``eval_mode=False`` BatchNorm layers in train mode update
  their running statistics during the forward, exactly as a training forward would.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_choice
from ..models.base import ECGModel
from ..models.inference import chunk_slices

ENGINES = ("fast", "captum")
RELU_ORDERS = ("after_mean", "before_mean")


def unwrap_model(model: nn.Module) -> ECGModel:
    """Return the plain :class:`ECGModel` under ``torch.compile`` / DataParallel / DDP wrappers.

    Captum adds and removes hooks at every call, which a compiled module does not see; both engines
    therefore run on the original module.

    Example:
        >>> from erts_kit.explain.gradcam import unwrap_model
        >>> m = nn.Linear(2, 2)
        >>> unwrap_model(nn.DataParallel(m)) is m
        True
    """
    seen = 0
    while seen < 8:
        if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        elif isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        else:
            break
        seen += 1
    return model  # type: ignore[return-value]


@contextmanager
def preserved_model_state(model: nn.Module, eval_mode: bool = True) -> Iterator[None]:
    """Context manager: optionally switch to eval mode, then restore every module's mode and every ``.grad``.

    Each submodule's ``training`` flag is restored individually (a frozen BatchNorm left in eval mode
    inside a training model stays so), and each parameter's ``.grad`` is reset to the very object it
    was before (``None`` stays ``None``).

    Example:
        >>> m = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train()
        >>> with preserved_model_state(m):
        ...     m.training
        False
        >>> m.training
        True
    """
    modes = [(mod, mod.training) for mod in model.modules()]
    grads = [(p, p.grad) for p in model.parameters()]
    try:
        if eval_mode:
            model.eval()
        yield
    finally:
        for mod, flag in modes:
            mod.training = flag
        for p, g in grads:
            if p.grad is not g:
                p.grad = g


def _check_model(model: nn.Module) -> ECGModel:
    m = unwrap_model(model)
    if not isinstance(m, ECGModel):
        raise TypeError(f"Expected an erts_kit ECGModel (forward_features/forward_head/cam_layer), got "
                        f"{type(m).__name__}: build it with erts_kit.models.build_model or subclass ECGModel.")
    return m


def _check_x(m: ECGModel, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"Expected x to be a torch.Tensor (B, leads, T), got {type(x).__name__}: "
                        f"wrap it with torch.as_tensor(x, dtype=torch.float32).")
    m.check_input(x)
    if torch.is_inference_mode_enabled():
        raise RuntimeError("Grad-CAM needs autograd, but it was called inside torch.inference_mode(): "
                           "call it outside, or use torch.no_grad() instead (Grad-CAM re-enables grad there).")
    return x.detach()


def _check_aux(m: ECGModel, x: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor | None:
    if aux is not None and not isinstance(aux, torch.Tensor):
        raise TypeError(f"Expected aux as a torch.Tensor (B, n_aux), got {type(aux).__name__}.")
    m.check_aux(aux, x.shape[0])
    return None if aux is None else aux.detach().to(x.device)


def _check_target(target: torch.Tensor | int | Sequence[int] | None, batch: int, n_classes: int,
                  device: torch.device) -> torch.Tensor | None:
    if target is None:
        return None
    t = torch.as_tensor(target, device=device)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"Expected integer class ids as target, got dtype {t.dtype}: use labels.long().")
    if t.dim() == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"Expected target of shape ({batch},) (one class id per sample) or a single int, "
                         f"got {tuple(t.shape)}.")
    if batch and (int(t.min()) < 0 or int(t.max()) >= n_classes):
        raise ValueError(f"Expected target class ids in [0, {n_classes - 1}], got range "
                         f"[{int(t.min())}, {int(t.max())}].")
    return t.long()


def _check_layer_output(m: ECGModel, a: torch.Tensor) -> None:
    want = 3 if m.input_kind == "1d" else 4
    if a.dim() != want:
        shape = "(B, C, W)" if want == 3 else "(B, C, H, W)"
        raise ValueError(f"Expected the cam layer of a {m.input_kind} model to output {shape}, got "
                         f"{tuple(a.shape)}: check {type(m).__name__}.cam_layer_name / input_kind.")


def _fast_signed(m: ECGModel, x: torch.Tensor, target: torch.Tensor | None, chunk: int | str | None,
                 aux: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Signed map at layer resolution (B, W) or (B, H, W) in float32, logits, and the target used.

    The batch goes through in micro-batches (:func:`erts_kit.models.inference.chunk_slices`: on the CPU in
    eval mode); each sample's map depends on that sample only, so the split changes no number.
    """
    parts = [_fast_signed_part(m, x[s], None if target is None else target[s], None if aux is None else aux[s])
             for s in chunk_slices(m, x, chunk)]
    if len(parts) == 1:
        return parts[0]
    cam, logits, used = (torch.cat(col) for col in zip(*parts))
    return cam, logits, used


def _fast_signed_part(m: ECGModel, x: torch.Tensor, target: torch.Tensor | None, aux: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        a = m.forward_features(x)  # (B, C, W) or (B, C, H, W)
    _check_layer_output(m, a)
    a = a.detach().requires_grad_()
    with torch.enable_grad():
        # (B, n_classes); aux joins in the head, the map stays on the signal (older heads take ``a`` only)
        logits = m.forward_head(a) if aux is None else m.forward_head(a, aux)
        if target is None:
            target = logits.detach().argmax(1)
        selected = logits.gather(1, target[:, None]).sum()
        (grads,) = torch.autograd.grad(selected, a)
    spatial = tuple(range(2, a.dim()))
    weights = grads.float().mean(dim=spatial, keepdim=True)  # (B, C, 1[, 1])
    cam = (weights * a.detach().float()).sum(1)  # (B, W) or (B, H, W)
    return cam, logits.detach(), target


def _captum_signed(m: ECGModel, x: torch.Tensor, target: torch.Tensor | None,
                   aux: torch.Tensor | None = None) -> torch.Tensor:
    from captum.attr import LayerGradCam

    if target is None:
        with torch.no_grad():
            target = m(x, aux).argmax(1)
    extra = None if aux is None else (aux,)
    with torch.enable_grad():
        attr = LayerGradCam(m, m.cam_layer).attribute(x, target=target, additional_forward_args=extra,
                                                      relu_attributions=False)
    _check_layer_output(m, attr)
    return attr.detach().float().squeeze(1)  # (B, W) or (B, H, W)


def _finish(m: ECGModel, cam: torch.Tensor, relu: bool, upsample: bool, per_lead: bool, T: int,
            relu_order: str = "after_mean") -> torch.Tensor:
    if relu and relu_order == "before_mean":
        cam = F.relu(cam)  # per row (the reference code's order); idempotent below
    if cam.dim() == 3 and not per_lead:
        cam = cam.mean(1)  # (B, H, W) -> (B, W): mean over the lead axis, as in the paper
    if relu:
        cam = F.relu(cam)
    if upsample:
        squeeze = cam.dim() == 2
        c = cam[:, None] if squeeze else cam  # (B, channels, W); channels = 1 or H
        c = F.interpolate(c, size=T, mode="linear", align_corners=False)
        cam = c[:, 0] if squeeze else c
    return cam


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | Sequence[int] | None = None,
            engine: str = "fast", relu: bool = True, upsample: bool = False, per_lead: bool = False,
            eval_mode: bool = True, chunk: int | str | None = "auto", relu_order: str = "after_mean",
            aux: torch.Tensor | None = None) -> torch.Tensor:
    """Grad-CAM maps of a batch for the given classes at ``model.cam_layer``.

    Args:
        model: an :class:`~erts_kit.models.base.ECGModel` (``torch.compile``/DDP wrappers are unwrapped).
        x: ECG batch (B, leads, T) on the model's device.
        target: class id per sample (B,) or one int for all; ERTS uses the true (given) labels.
            ``None`` explains the predicted class (argmax of the logits from the same forward).
        engine: ``"fast"`` (trunk without autograd, head with it) or ``"captum"`` (``LayerGradCam``).
        relu: keep only positive evidence (after the lead reduction); ``False`` returns signed maps.
        upsample: linearly interpolate the map to the input length T (for display; ERTS scores
            focus at the layer's own resolution, so leave it off for scoring).
        per_lead: 2-D backbones only: return (B, H, W) without the mean over the lead axis H.
        eval_mode: compute in eval mode (default, as the paper); the mode is restored afterwards.
        chunk: fast engine only: samples per micro-batch of its pass
            (:func:`erts_kit.models.inference.inference_chunk`; ``"auto"`` splits on the CPU in eval
            mode, ``None`` never). Same maps, less time and memory.
        relu_order: 2-D backbones with ``relu``: ``"after_mean"`` (kit: mean over H, then ReLU) or
            ``"before_mean"`` (reference code: ReLU per row, then the mean).
        aux: (B, n_aux) per-sample features of a model built with ``n_aux > 0`` (they enter the
            head only: the map stays on the signal). Captum gets them as ``additional_forward_args``.

    Returns:
        float32 tensor (B, W) — or (B, H, W) with ``per_lead`` — on x's device; W = T if ``upsample``.
        Train/eval mode and every parameter's ``.grad`` are exactly as before the call.

    Raises:
        ValueError: bad shapes, unknown engine, target out of range, ``per_lead`` on a 1-D model.
        TypeError: not an ECGModel, non-integer target.

    Example:
        >>> import torch
        >>> from erts_kit.models import build_model
        >>> m = build_model("small_cnn", n_leads=2, n_classes=3)
        >>> x = torch.randn(5, 2, 64)
        >>> gradcam(m, x, torch.tensor([0, 1, 2, 0, 1])).shape   # small_cnn's layer: T / 8
        torch.Size([5, 8])
        >>> fast = gradcam(m, x, 1, relu=False)
        >>> torch.allclose(fast, gradcam(m, x, 1, engine="captum", relu=False), atol=1e-6)
        True
    """
    check_choice("engine", engine, ENGINES)
    check_choice("relu_order", relu_order, RELU_ORDERS)
    m = _check_model(model)
    x = _check_x(m, x)
    if per_lead and m.input_kind != "2d":
        raise ValueError(f"per_lead=True needs a 2-D backbone (layer output (B, C, H, W)), but "
                         f"{type(m).__name__} is {m.input_kind!r}: drop per_lead.")
    t = _check_target(target, x.shape[0], m.n_classes, x.device)
    aux = _check_aux(m, x, aux)
    with preserved_model_state(m, eval_mode):
        if engine == "fast":
            cam, _, _ = _fast_signed(m, x, t, chunk, aux)
        else:
            cam = _captum_signed(m, x, t, aux)
    return _finish(m, cam, relu, upsample, per_lead, x.shape[-1], relu_order)


def gradcam_and_logits(model: nn.Module, x: torch.Tensor, target: torch.Tensor | Sequence[int],
                       eval_mode: bool = True, chunk: int | str | None = "auto",
                       relu_order: str = "after_mean",
                       aux: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed, lead-reduced Grad-CAM maps at layer resolution and the logits, from one shared forward.

    The fast path of the ERTS training loop: one trunk forward without autograd gives both p_true
    (softmax of the logits) and the map, with only the head differentiated. Nothing is ReLU'd or
    upsampled; :func:`erts_kit.explain.focus_score` applies ReLU itself. With
    ``relu_order="before_mean"`` (the reference code's order) each row is ReLU'd before the lead mean,
    so the maps of a 2-D backbone are non-negative.

    Args:
        model: an ECGModel (wrappers are unwrapped).
        x: ECG batch (B, leads, T).
        target: class id per sample (B,) (the true labels, in ERTS).
        eval_mode: compute in eval mode (default); the model's modes and ``.grad`` are restored.
        chunk: samples per micro-batch of the pass (see :func:`gradcam`).
        relu_order: ``"after_mean"`` (kit, signed maps) or ``"before_mean"`` (see :func:`gradcam`).
        aux: (B, n_aux) per-sample features (see :func:`gradcam`).

    Returns:
        ``(maps, logits)``: maps float32 (B, W) (2-D backbones: mean over the lead axis), logits (B, C)
        detached, in the dtype the head produced (float16/bfloat16 under autocast).

    Example:
        >>> import torch
        >>> from erts_kit.models import build_model
        >>> m = build_model("small_cnn", n_leads=1, n_classes=2)
        >>> maps, logits = gradcam_and_logits(m, torch.randn(4, 1, 80), torch.tensor([0, 1, 1, 0]))
        >>> tuple(maps.shape), tuple(logits.shape)
        ((4, 10), (4, 2))
    """
    if target is None:
        raise ValueError("gradcam_and_logits needs target (B,) class ids (the true labels); "
                         "use gradcam(model, x, target=None) to explain the predicted class.")
    m = _check_model(model)
    x = _check_x(m, x)
    check_choice("relu_order", relu_order, RELU_ORDERS)
    t = _check_target(target, x.shape[0], m.n_classes, x.device)
    aux = _check_aux(m, x, aux)
    with preserved_model_state(m, eval_mode):
        cam, logits, _ = _fast_signed(m, x, t, chunk, aux)
    if relu_order == "before_mean" and cam.dim() == 3:
        cam = F.relu(cam)  # per row, before the lead mean (the reference code's order)
    return _finish(m, cam, relu=False, upsample=False, per_lead=False, T=x.shape[-1]), logits
