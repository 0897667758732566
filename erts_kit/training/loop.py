"""One training loop for every selection policy (full data, PDD, ERTS), on CUDA, MPS or CPU.

:func:`train` reads top to bottom: set-up (:mod:`.state`), resume, the epochs (:mod:`.epoch`:
batches, validation, the history row), checkpoints, then the best weights back and the test split.
Per epoch: StepLR step, validation, the best-validation checkpoint (``best.pt``) and a resumable
``last.pt`` (model, optimizer, scheduler, GradScaler, every RNG, history, ledger, log).

Departures from the ERTS reference (arXiv 2606.12252), on purpose:
- epochs are numbered from 0 everywhere (history, selection log, ``policy.select``);
- the loss of one step is the weighted mean over the samples kept in the step (as
  ``CrossEntropyLoss(weight=...)``), so a step on 3 kept samples is not 10x smaller than one on 30.

Under ``torchrun`` the loop runs DistributedDataParallel (:mod:`.distributed`, :mod:`.step`).
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from ..data.dataset import ECGData
from ..selection import make_policy
from .checkpoint import load_checkpoint
from .config import TrainConfig, pick_device
from .distributed import Ranks, rank_device, ranks
from .epoch import add_costs, epoch_row, run_batches, validate_epoch
from .evaluate import check_compatible, evaluate
from .schedule import select_from, warn_if_never_selects, warn_if_warmup_best
from .state import RunState, build_run_state, resume_run_state, save_epoch_checkpoints

__all__ = ["TrainResult", "train"]


@dataclass
class TrainResult:
    """What :func:`train` returns. ``model`` holds the best-validation weights (on the training device)."""

    history: pd.DataFrame
    ledger: Any
    selection_log: Any
    best_checkpoint: Path | None
    model: nn.Module
    test_metrics: dict[str, Any] | None
    best_epoch: int = -1
    device: str = "cpu"
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def train(model: nn.Module, data: ECGData, policy: Any = None, config: TrainConfig | None = None,
          run_dir: str | os.PathLike | None = None, progress: bool = True, *, resume: bool = False) -> TrainResult:
    """Train ``model`` on ``data.splits['train']`` with ``policy`` choosing the samples of every batch.

    Args:
        model: an ``ECGModel`` (or any module mapping (B, leads, T) to (B, C) logits).
        data: ECGData with 'train' and 'val' splits ('test' optional: evaluated with the best weights).
        policy: a :class:`~erts_kit.selection.base.SelectionPolicy`; None is ``make_policy('full')``.
        config: :class:`TrainConfig` (default ``TrainConfig()``).
        run_dir: folder for ``best.pt`` / ``last.pt`` (None: nothing written, best weights kept in memory).
        progress: tqdm progress bars (terminal and Jupyter) and a device line.
        resume: continue from ``run_dir/last.pt`` if it exists (same config except ``epochs`` & co.).

    Returns:
        :class:`TrainResult`; ``history`` has one row per epoch (epoch numbered from 0) with
        ``train_loss, val_loss, val_macro_f1, lr, seconds, kept, kept_frac, effective_epochs,
        compute_equivalent_epochs, seconds_<phase>..., kept_frac_<class>..., device``; ``extra`` holds
        ``test_indices`` and ``test_probabilities`` when there is a test split.

    Warns:
        ScheduleWarning: the policy never selects (or, for ERTS, never filters) within ``config.epochs``;
            the best epoch of a selection policy is a warm-up epoch (:mod:`.schedule`).

    Raises:
        ValueError: data/model/loss mismatch (leads, classes, shapes, splits), or run_dir already holds a
            run and ``resume`` is False.
        NonFiniteLossError: the loss became NaN/inf (epoch and step in the message).

    Example:
        >>> import numpy as np
        >>> from erts_kit.models import build_model
        >>> x = np.random.default_rng(0).standard_normal((24, 1, 64)).astype("float32")
        >>> d = ECGData(x, np.arange(24) % 2, ["a", "b"], fs=64, splits={"train": range(16), "val": range(16, 24)})
        >>> res = train(build_model("small_cnn", 1, 2), d, config=TrainConfig(epochs=1), progress=False)
        >>> res.history[["epoch", "kept", "effective_epochs", "compute_equivalent_epochs"]].to_dict("records")
        [{'epoch': 0, 'kept': 16, 'effective_epochs': 1.0, 'compute_equivalent_epochs': 1.0}]
    """
    config, policy, focus_name = _checked_inputs(config, policy)
    where = ranks()
    device = rank_device(pick_device(config.device), where.distributed, where.rank)
    model.to(device)
    check_compatible(model, data, config.loss, device)
    run_dir = _checked_run_dir(run_dir, resume)
    show = progress and where.main
    if show:
        amp_note = "AMP on" if config.amp and device.type == "cuda" else "AMP off"
        tqdm.write(f"erts_kit.train: device {device} ({amp_note}), policy {policy.name!r}, "
                   f"{len(data.splits['train'])} training samples" + (f", {where.world} ranks" if where.distributed else ""))
    if where.main:
        warn_if_never_selects(policy, config.epochs)
    state = build_run_state(model, data, config, device, where.distributed, where.rank, where.world)
    state.select_from = select_from(policy, config)
    if resume and run_dir is not None:
        resumed = resume_run_state(state, run_dir, config, policy, where.distributed, where.main)
        if resumed is not None and show:
            tqdm.write(f"erts_kit.train: resumed {run_dir / 'last.pt'} after epoch {resumed}")
    n_train = len(data.splits["train"])
    epochs = tqdm(range(state.start_epoch, config.epochs), desc="epochs", disable=not show,
                  initial=state.start_epoch, total=config.epochs)
    for epoch in epochs:
        t_epoch = time.perf_counter()
        lr = state.optimizer.param_groups[0]["lr"]
        sums = run_batches(state, policy, epoch, config, device, focus_name, where, show)
        row = epoch_row(state, epoch, lr, sums, n_train)
        validate_epoch(state, data, epoch, config, row, where)
        add_costs(state, row, n_train)
        row["seconds"] = time.perf_counter() - t_epoch
        row["device"] = str(device)
        state.history.append(row)
        epochs.set_postfix(loss=row["train_loss"], val_f1=row["val_macro_f1"], kept=row["kept_frac"])
        if run_dir is not None and where.main:
            save_epoch_checkpoints(state, run_dir, epoch, config, policy, device)
    if where.main:
        warn_if_warmup_best(policy, int(state.best["epoch"]), config)
    return _finish(state, data, config, run_dir, where, device)


# -- helpers, in the order train() calls them ---------------------------------------------------------
def _checked_inputs(config: TrainConfig | None, policy: Any) -> tuple[TrainConfig, Any, str]:
    """The config (default ``TrainConfig()``), the policy (default full data) and the focus score's name."""
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"Expected config as a TrainConfig, got {type(config).__name__}.")
    policy = make_policy("full") if policy is None else policy
    # An ERTS policy names its own focus score; the policy's choice wins, loudly if it differs.
    focus_name = getattr(policy, "focus_name", None) or config.focus_score
    if focus_name != config.focus_score and config.focus_score != "topk_mean":
        warnings.warn(f"config.focus_score={config.focus_score!r} differs from the policy's focus "
                      f"{focus_name!r}; the policy's score is used.", stacklevel=3)
    return config, policy, focus_name


def _checked_run_dir(run_dir: str | os.PathLike | None, resume: bool) -> Path | None:
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and (run_dir / "last.pt").exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run (last.pt): pass resume=True to continue it, "
                         "or choose a new run_dir.")
    return run_dir


def _finish(state: RunState, data: ECGData, config: TrainConfig, run_dir: Path | None, where: Ranks,
            device: torch.device) -> TrainResult:
    """Best weights back into the model, test metrics, the process group closed, the result."""
    if where.distributed:
        dist.barrier()
    best_path = run_dir / "best.pt" if run_dir is not None and (run_dir / "best.pt").exists() else None
    best_state = state.best_state
    if best_state is None and best_path is not None:
        best_state = load_checkpoint(best_path)["model"]
    if best_state is not None:
        state.model.load_state_dict(best_state)
    test_metrics, extra = None, {}
    if "test" in data.splits and len(data.splits["test"]):
        out = evaluate(state.model, data, "test", batch_size=max(config.batch_size, 64), loss=state.criterion,
                       amp=state.use_amp)
        test_metrics = {"loss": out["loss"], **out["metrics"]}
        extra = {"test_indices": out["indices"], "test_probabilities": out["probabilities"]}
    if where.created_group:
        dist.destroy_process_group()
    hist = pd.DataFrame(state.history).drop(columns=["kept_cum"], errors="ignore")
    return TrainResult(history=hist, ledger=state.full_ledger, selection_log=state.full_log if where.main else None,
                       best_checkpoint=best_path, model=state.model, test_metrics=test_metrics,
                       best_epoch=int(state.best["epoch"]), device=str(device), run_dir=run_dir, extra=extra)
