"""One epoch of the training loop: the batches, then validation and the epoch's row of the history.

Per batch: ``BatchInfo`` -> a lazy ``ModelBatchScorer`` (scores only what the policy asks for and
charges the cost ledger) -> ``policy.select`` -> the selection log -> a training forward + backward on
the kept samples only (:func:`~erts_kit.training.step.train_step`) -> ``policy.observe(epoch, indices,
losses, logits, targets)`` with the kept samples' per-sample losses and logits of that training forward,
keyed by dataset index (only for a policy that has ``observe``; it costs no pass). A policy with
``plan_epoch`` (InfoBatch, noise-aware) may decide for every sample before the epoch: then only the kept
samples are batched (fewer, full batches) and the pruned ones go straight to the selection log. The full-data
policy never asks for a score, so it pays no scoring pass. Under ``fidelity="reference"`` the scorer works
as the reference code's does (train-mode, fp32 scoring) and the reference's extra scoring forwards run too
(:func:`~erts_kit.training.fidelity.reference_passes`), each charged to the ledger.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data.dataset import ECGData, ECGDataset
from ..selection.base import BatchInfo
from ..selection.log import SelectionLog
from ..selection.scoring import ModelBatchScorer
from .config import TrainConfig
from .distributed import Ranks, broadcast_buffers, gather_selection
from .evaluate import evaluate
from .fidelity import reference_passes, resolve_fidelity
from .state import RunState
from .step import train_step

__all__ = ["add_costs", "epoch_row", "run_batches", "validate_epoch"]


def run_batches(state: RunState, policy: Any, epoch: int, config: TrainConfig, device: torch.device,
                focus_name: str, where: Ranks, progress: bool) -> torch.Tensor:
    """Every batch of one epoch, then the scheduler step; returns ``[loss sum, weight sum, kept, seen]``
    followed by the kept and the seen count of each class (``2 * len(state.class_names)`` more).

    Under DDP the sums are all-reduced over ranks and the ledgers and logs gathered to rank 0.
    """
    if state.sampler is not None:
        state.sampler.set_epoch(epoch)
    n_cls = len(state.class_names)
    sums = torch.zeros(4 + 2 * n_cls, dtype=torch.float64)
    ledger = state.ledger
    switches = resolve_fidelity(config)
    before, after = reference_passes(policy, epoch) if switches.reference_passes else (False, False)
    scorer_kw = {"amp": state.use_amp and not switches.scoring_fp32, "train_mode": switches.scoring_mode == "train",
                 "relu_order": switches.cam_relu_order}
    loader = _epoch_loader(state, policy, epoch, where, sums, n_cls)
    batches = iter(tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress))
    while True:
        with ledger.phase("data"):
            item = next(batches, None)
        if item is None:
            break
        x, y, idx, *extra = item  # extra: [aux] when the data has auxiliary features
        y_cpu = y
        x, y = x.to(device, non_blocking=state.pin_memory), y.to(device, non_blocking=state.pin_memory)
        aux = extra[0].to(device, non_blocking=state.pin_memory) if extra else None
        batch = BatchInfo(x=x, y=y, indices=idx.to(device), step=state.step, aux=aux)
        scorer = ModelBatchScorer(state.model, batch, ledger=ledger, focus_name=focus_name, **scorer_kw)
        if before:
            scorer.p_true()   # the reference's scoring forward, whether or not the policy reads it
        sel = policy.select(epoch, batch, scorer)
        state.log.add(epoch, idx, sel)
        keep = sel.keep.to(device=x.device, dtype=torch.bool)
        n_keep = int(keep.sum())
        sums[3] += len(idx)
        _count_classes(sums, y_cpu, sel.keep, n_cls)
        with ledger.phase("train"):
            seen = train_step(state.net, state.model, state.criterion, state.optimizer, state.scaler,
                              config.grad_clip, x, y, keep, n_keep, where.distributed, where.world, state.use_amp,
                              epoch, state.step, sums, scale=sel.scale, aux=aux)
        ledger.add_train(n_keep)
        if after and n_keep:   # the reference skips a batch it keeps nothing of, pass included
            scorer.extra_forward()
        observe = getattr(policy, "observe", None)
        if observe is not None and seen is not None:  # the training forward's losses, free for the policy
            kept = keep.cpu()
            observe(epoch, idx[kept], seen[0].cpu(), seen[1].cpu(), y[keep].cpu())
        state.step += 1
    with warnings.catch_warnings():  # an epoch without any optimizer step is legitimate here
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
        state.scheduler.step()
    if where.distributed:
        dist.all_reduce(sums)
    ledger.end_epoch(epoch)
    if where.distributed:
        state.full_ledger, state.full_log = gather_selection(ledger, state.log, state.full_log, where.world,
                                                             where.main)
        state.log = SelectionLog()
    return sums


def _epoch_loader(state: RunState, policy: Any, epoch: int, where: Ranks, sums: torch.Tensor,
                  n_cls: int) -> DataLoader:
    """The epoch's loader: every training sample, or only those the policy's ``plan_epoch`` keeps.

    The pruned samples are logged and counted as shown-but-not-kept here, without a forward. Planning
    needs the plain single-process shuffle: under DDP or a class-balanced sampler the policy decides
    per batch instead (its ``select`` without a plan).
    """
    plan_epoch = getattr(policy, "plan_epoch", None)
    if plan_epoch is None or where.distributed or state.sampler is not None:
        return state.loader
    dataset: ECGDataset = state.loader.dataset
    idx = torch.as_tensor(dataset.indices, dtype=torch.long)
    plan = plan_epoch(epoch, idx)
    if plan is None or bool(plan.keep.all()):
        return state.loader
    dropped = ~plan.keep.to(torch.bool)
    state.log.add_arrays(epoch, idx[dropped], plan.decision[dropped], p_true=plan.p_true[dropped])
    sums[3] += int(dropped.sum())
    labels = torch.as_tensor(np.asarray(dataset.data.labels)[dataset.indices[dropped.numpy()]])
    _count_classes(sums, labels, torch.zeros(int(dropped.sum()), dtype=torch.bool), n_cls)
    kept = ECGDataset(dataset.data, dataset.indices[(~dropped).numpy()])
    return DataLoader(kept, batch_size=state.loader.batch_size, shuffle=True, generator=state.generator,
                      num_workers=state.loader.num_workers, pin_memory=state.pin_memory)


def _count_classes(sums: torch.Tensor, y: torch.Tensor, keep: torch.Tensor, n_cls: int) -> None:
    """Add the batch's kept and seen samples per class to ``sums[4:]`` (multi-hot: every positive class)."""
    if not n_cls:
        return
    y = y.detach().cpu()
    hot = (y > 0.5).to(torch.float64) if y.dim() == 2 else torch.nn.functional.one_hot(y.long(), n_cls).double()
    keep = keep.detach().cpu().to(torch.bool)
    sums[4:4 + n_cls] += hot[keep].sum(0)
    sums[4 + n_cls:] += hot.sum(0)


def epoch_row(state: RunState, epoch: int, lr: float, sums: torch.Tensor, n_train: int) -> dict[str, Any]:
    """The history row of an epoch from its sums: training loss, kept counts, effective epochs (as published),
    and ``kept_frac_<class>``: the share of the class's samples shown this epoch that were trained on
    (NaN when none was shown)."""
    kept_total = (state.history[-1]["kept_cum"] if state.history else 0) + int(sums[2])
    row = {"epoch": epoch, "train_loss": float(sums[0] / sums[1]) if sums[1] > 0 else float("nan"),
           "val_loss": float("nan"), "val_macro_f1": float("nan"), "lr": lr,
           "kept": int(sums[2]), "kept_frac": float(sums[2] / max(sums[3], 1)),
           "kept_cum": kept_total, "effective_epochs": kept_total / n_train}
    n_cls = len(state.class_names)
    for c, name in enumerate(state.class_names):
        seen = float(sums[4 + n_cls + c])
        row[f"kept_frac_{name}"] = float(sums[4 + c]) / seen if seen else float("nan")
    return row


def validate_epoch(state: RunState, data: ECGData, epoch: int, config: TrainConfig, row: dict[str, Any],
                   where: Ranks) -> None:
    """Validate (on the epochs ``eval_every`` asks for, and the last), fill ``row``, keep the best weights."""
    if (epoch + 1) % config.eval_every and epoch != config.epochs - 1:
        return
    if where.distributed:
        broadcast_buffers(state.model)
    t0 = time.perf_counter()
    val = evaluate(state.model, data, "val", batch_size=max(config.batch_size, 64), loss=state.criterion,
                   amp=state.use_amp, auroc=config.select_metric == "macro_auroc")
    row["seconds_eval"] = time.perf_counter() - t0
    row["val_loss"] = val["loss"]
    row["val_macro_f1"] = float(val["metrics"]["macro_f1"])
    lower_is_better = config.select_metric == "loss"
    score = val["loss"] if lower_is_better else float(val["metrics"][config.select_metric])
    row[f"val_{config.select_metric}"] = score
    best = state.best["score"]
    better = best is None or (score < best if lower_is_better else score > best)
    if better and np.isfinite(score) and epoch >= state.select_from:
        state.best = {"epoch": epoch, "score": float(score)}
        state.best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}


def add_costs(state: RunState, row: dict[str, Any], n_train: int) -> None:
    """Compute-equivalent epochs and seconds per phase (rank 0) from the ledger, into ``row``."""
    if state.full_ledger is None:
        return
    table = state.full_ledger.epoch_table(n_train=n_train).iloc[-1]
    row["compute_equivalent_epochs"] = float(table["cum_compute_epochs"])
    for col in table.index:
        if str(col).startswith("time_"):
            row["seconds_" + str(col)[5:]] = float(table[col])
