"""One optimizer step on the kept samples, DDP-safe.

DDP scaling (see :mod:`erts_kit.training.distributed`): the kept weight (``criterion.normaliser``: the sum of
the kept samples' weights, or their count under the reference's ``reduction="mean"``) is all-reduced first;
each rank's loss sum is multiplied by ``world_size / global_weight`` so that DDP's gradient *average* equals
the gradient of the reduced loss over every sample kept on any rank. A rank that kept nothing forwards one zero
input in eval mode with weight 0 (joins the all-reduce, adds no gradient, moves no BatchNorm statistic).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from .losses import ClassificationLoss

__all__ = ["NonFiniteLossError", "train_step"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN/inf; ``epoch`` and ``step`` say where (the last good checkpoint stays)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"Non-finite training loss ({value}) at epoch {epoch}, step {step}: lower the lr, "
                         f"set grad_clip, or check the data for NaN/inf values. The last good checkpoint is kept.")
        self.epoch, self.step = epoch, step


def train_step(net: nn.Module, model: nn.Module, criterion: ClassificationLoss, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, grad_clip: float | None, x: torch.Tensor, y: torch.Tensor,
               keep: torch.Tensor, n_keep: int, distributed: bool, world: int, use_amp: bool, epoch: int, step: int,
               sums: torch.Tensor, scale: torch.Tensor | None = None,
               aux: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """One optimizer step on the kept samples (see the module docstring for the DDP scaling).

    ``scale`` (B,) multiplies each kept sample's loss, and the step's loss is then divided by the weight
    of the whole batch instead of the kept part: with samples dropped independently with probability
    ``r`` and the kept ones scaled by ``1 / (1 - r)``, the expected gradient is the full batch's.
    ``aux`` (B, F): the batch's auxiliary features, masked like ``x`` and passed as ``net(x, aux)``.

    Returns the kept samples' per-sample losses (weighted, before ``scale``) and logits of the training
    forward, detached, for policies that learn from them (``policy.observe``); None when no step ran.
    """
    ak = aux
    if n_keep == len(y):
        xk, yk = x, y                          # every sample kept (the full policy): no mask copy
    else:
        xk, yk = (x[keep], y[keep]) if n_keep else (torch.zeros_like(x[:1]), y[:1])
        if aux is not None:
            ak = aux[keep] if n_keep else torch.zeros_like(aux[:1])
    # the divisor of the loss sum: sum of kept weights (kit) or the kept count (reference), see losses.py
    w_local = criterion.normaliser(yk) if n_keep else torch.zeros((), device=x.device)
    if scale is not None and n_keep:
        w_local = criterion.normaliser(y)   # per-sample scales (InfoBatch): the whole batch, kept and dropped
    w_global = w_local.detach().clone()
    if distributed:
        dist.all_reduce(w_global)
    if float(w_global) <= 0:  # nobody kept anything: no step on any rank
        return None
    model.train(n_keep > 0)  # the dummy runs in eval mode: it must not move BatchNorm statistics
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=use_amp):
        logits = net(xk) if ak is None else net(xk, ak)
    losses, _ = criterion.per_sample(logits.float(), yk)
    scaled = losses * scale.to(losses.device)[keep] if scale is not None and n_keep else losses
    loss_sum = scaled.sum() if n_keep else losses.sum() * 0.0
    bad = torch.tensor([0.0 if torch.isfinite(loss_sum) else 1.0], device=x.device)
    if distributed:
        dist.all_reduce(bad)
    if bad.item() > 0:
        raise NonFiniteLossError(epoch, step, float(loss_sum.detach()))
    scaler.scale(loss_sum * (world / w_global)).backward()
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    sums[0] += float(loss_sum.detach())
    sums[1] += float(w_local)
    sums[2] += n_keep
    return (losses.detach(), logits.detach().float()) if n_keep else None
