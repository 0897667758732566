"""Everything one training run carries from step to step, how it is built, saved and resumed.

:class:`RunState` holds the model, the optimizer, scheduler and GradScaler, the data loader and its
generator, the cost ledger and selection log, the history, the step counter and the best epoch.
:func:`build_run_state` makes a fresh one; :func:`resume_run_state` continues it from ``last.pt``
(same config except ``epochs``, ``num_workers``, ``pin_memory``, ``eval_every``; same policy);
:func:`save_epoch_checkpoints` writes ``best.pt`` (when the epoch was the best) and ``last.pt``.
"""
from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.distributed import DistributedSampler

from ..data.dataset import ECGData, ECGDataset
from ..selection.ledger import CostLedger
from ..selection.log import SelectionLog
from .checkpoint import (
    frame_to_dict,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .config import RESUME_FREE, TrainConfig, comparable_config
from .distributed import wrap_ddp
from .fidelity import resolve_fidelity
from .losses import ClassificationLoss, make_loss
from .sampling import ClassBalancedSampler

__all__ = ["RunState", "build_run_state", "policy_params", "resume_run_state", "save_epoch_checkpoints"]


@dataclass
class RunState:
    """The mutable state of a training run (one per rank under DDP).

    ``ledger``/``log`` are this rank's (the log since the last gather); ``full_ledger``/``full_log``
    hold every rank's on rank 0 (the same objects in a single process; ``full_ledger`` is None on
    the other ranks). ``best`` is ``{"epoch", "score"}``; ``best_state`` the best weights on the CPU.
    ``sampler`` is the DistributedSampler, or the :class:`~.sampling.ClassBalancedSampler` (any
    rank count), or None for a plain shuffle; ``select_from`` the first epoch that may become best
    (``TrainConfig.select_after_warmup``); ``class_names`` name the ``kept_frac_<class>`` columns.
    """

    model: nn.Module
    net: nn.Module                      # ``model``, or its DDP wrapper
    loader: DataLoader
    sampler: Sampler | None
    generator: torch.Generator
    criterion: ClassificationLoss
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ledger: CostLedger
    log: SelectionLog
    full_ledger: CostLedger | None
    full_log: SelectionLog
    pin_memory: bool
    use_amp: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0
    step: int = 0
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "score": None})
    best_state: dict[str, torch.Tensor] | None = None
    select_from: int = 0
    class_names: list[str] = field(default_factory=list)


def policy_params(policy: Any) -> dict[str, Any] | None:
    """The policy's hyper-parameters as a dict (None when it has none), as checkpoints record them."""
    return dict(policy.params()) if hasattr(policy, "params") else None


def build_run_state(model: nn.Module, data: ECGData, config: TrainConfig, device: torch.device,
                    distributed: bool, rank: int, world: int) -> RunState:
    """Seed every RNG (``config.seed + rank``), then build the loader, loss, optimizer and bookkeeping."""
    torch.manual_seed(config.seed + rank)
    np.random.seed(config.seed + rank)
    random.seed(config.seed + rank)
    train_idx = data.splits["train"]
    dataset = ECGDataset(data, train_idx)
    gen = torch.Generator().manual_seed(config.seed)
    sampler: Sampler | None = None
    if config.sampler == "class_balanced":
        sampler = ClassBalancedSampler(data.labels[train_idx], config.seed, rank, world)
    elif distributed:
        sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=config.seed)
    pin = device.type == "cuda" if config.pin_memory is None else config.pin_memory
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=gen, num_workers=config.num_workers, pin_memory=pin)
    switches = resolve_fidelity(config)
    criterion = make_loss(config.loss, data.labels[train_idx], data.n_classes, config.cb_beta,
                          config.cb_max_weight_ratio, reduction=switches.loss_reduction,
                          empty_class=switches.cb_empty_class).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_gamma)
    use_amp = config.amp and device.type == "cuda"
    ledger = CostLedger(sync_cuda=device.type == "cuda")
    log = SelectionLog()
    return RunState(model=model, net=wrap_ddp(model, device, distributed), loader=loader, sampler=sampler,
                    generator=gen, criterion=criterion, optimizer=optimizer, scheduler=scheduler,
                    scaler=torch.amp.GradScaler("cuda", enabled=use_amp), ledger=ledger, log=log,
                    full_ledger=None if distributed else ledger, full_log=SelectionLog() if distributed else log,
                    pin_memory=pin, use_amp=use_amp, class_names=[str(c) for c in data.class_names])


def _checked_resume_checkpoint(path: Path, config: TrainConfig, policy: Any) -> dict[str, Any]:
    ckpt = load_checkpoint(path)
    old, new = comparable_config(ckpt["config"]), comparable_config(asdict(config))
    defaults = asdict(TrainConfig())   # a field newer than the checkpoint counts as its default there
    diff = {k: (old.get(k, defaults.get(k)), v) for k, v in new.items()
            if k not in RESUME_FREE and old.get(k, defaults.get(k)) != v}
    if diff:
        shown = "; ".join(f"{k}: {o!r} there, {n!r} now" for k, (o, n) in diff.items())
        raise ValueError(f"Cannot resume {path}: the config differs in {shown}. Use the same "
                         "settings (only epochs, num_workers, pin_memory, eval_every may change), another --out "
                         "folder / run_dir, or rerun with --no-resume to retrain from scratch.")
    if ckpt.get("policy_name") != policy.name or ckpt.get("policy_params") != policy_params(policy):
        raise ValueError(f"Cannot resume {path}: it was trained with policy {ckpt.get('policy_name')!r} "
                         f"{ckpt.get('policy_params')}, not {policy.name!r} {policy_params(policy)}.")
    return ckpt


def resume_run_state(state: RunState, run_dir: Path, config: TrainConfig, policy: Any, distributed: bool,
                     main: bool) -> int | None:
    """Load ``run_dir/last.pt`` into ``state`` and ``policy``; the epoch it ended, or None when there is none.

    Raises:
        ValueError: the checkpoint was made with another config (beyond the resume-free fields) or policy.
    """
    path = run_dir / "last.pt"
    if not path.exists():
        return None
    ckpt = _checked_resume_checkpoint(path, config, policy)
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    state.scaler.load_state_dict(ckpt["scaler"])
    if not distributed:
        set_rng_state(ckpt["rng"], state.generator)
    if ckpt.get("policy_state") is not None and hasattr(policy, "load_state_dict"):
        policy.load_state_dict(ckpt["policy_state"])
    led_state = copy.deepcopy(ckpt["ledger"])
    if not main:  # rank 0 carries the totals so far; the other ranks start from zero counts
        led_state["counts"] = [[0] * len(r) for r in led_state["counts"]]
        led_state["times"] = [{} for _ in led_state["times"]]
    state.ledger.load_state_dict(led_state)
    if distributed:
        state.full_ledger = CostLedger()
        state.full_ledger.load_state_dict(ckpt["ledger"])
        state.full_log.load_state_dict(ckpt["selection_log"])
    else:
        state.log.load_state_dict(ckpt["selection_log"])
    state.history = pd.DataFrame(ckpt["history"]).to_dict("records")
    state.start_epoch, state.step, state.best = int(ckpt["epoch"]) + 1, int(ckpt["step"]), dict(ckpt["best"])
    return int(ckpt["epoch"])


def _last_checkpoint(state: RunState, epoch: int, config: TrainConfig, policy: Any,
                     device: torch.device) -> dict[str, Any]:
    return {"epoch": epoch, "step": state.step, "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict(), "rng": rng_state(state.generator),
            "history": frame_to_dict(pd.DataFrame(state.history)), "config": asdict(config),
            "ledger": state.full_ledger.state_dict(), "selection_log": state.full_log.state_dict(),
            "best": state.best, "policy_name": policy.name, "policy_params": policy_params(policy),
            "device": str(device), "policy_state": policy.state_dict() if hasattr(policy, "state_dict") else None}


def save_epoch_checkpoints(state: RunState, run_dir: Path, epoch: int, config: TrainConfig, policy: Any,
                           device: torch.device) -> None:
    """Write ``best.pt`` when ``epoch`` is the best so far, then the resumable ``last.pt`` (atomically)."""
    if state.best["epoch"] == epoch:
        save_checkpoint(run_dir / "best.pt", {"epoch": epoch, "model": state.best_state, "best": state.best,
                                              "config": asdict(config), "policy_name": policy.name})
    save_checkpoint(run_dir / "last.pt", _last_checkpoint(state, epoch, config, policy, device))
