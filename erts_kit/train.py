"""One training loop for every selection policy (full data, PDD, ERTS), on CUDA, MPS or CPU.

Per batch: ``BatchInfo`` -> a lazy ``ModelBatchScorer`` (scores only what the policy asks for and
charges the cost ledger) -> ``policy.select`` -> the selection log -> a training forward + backward on
the kept samples only -> optimizer step. The full-data policy never asks for a score, so it pays no
scoring pass. Per epoch: StepLR step, validation, the best-validation checkpoint (``best.pt``) and a
resumable ``last.pt`` (model, optimizer, scheduler, GradScaler, every RNG, history, ledger, log).

Set-up follows the ERTS reference (arXiv 2606.12252): AdamW 3e-4, weight decay 0.01, StepLR 0.98 per
epoch, batch 32, seed 42; :func:`paper_config` gives it. Departures, on purpose:
- epochs are numbered from 0 everywhere (history, selection log, ``policy.select``);
- the loss of one step is the weighted mean over the samples kept in the step (as
  ``CrossEntropyLoss(weight=...)``), so a step on 3 kept samples is not 10x smaller than one on 30.

Under ``torchrun`` (``WORLD_SIZE > 1``) the loop runs DistributedDataParallel (gloo on CPU, NCCL on
CUDA) with a ``DistributedSampler``; every rank selects from its own batch. Each step first
all-reduces the kept weight, then scales the rank's loss sum by ``world_size / global_weight``: DDP
averages gradients over ranks, so the update equals the weighted mean over every sample kept on any
rank (a single process on the union batch). A rank that kept nothing runs a zero-weighted forward on
one zero input, in eval mode so BatchNorm statistics do not move, to join DDP's gradient all-reduce
(no hang, no gradient contribution; weight decay and Adam moments still step, as on every rank, since
the step is global); a step where no
rank kept anything is skipped on all ranks. Validation runs on every rank (same decision everywhere);
the ledger and the selection log are gathered to rank 0, which alone writes checkpoints.
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from ._validation import check_choice, check_int, check_range
from .checkpoint import frame_to_dict, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data.dataset import ECGData, ECGDataset
from .losses import LOSSES, make_loss
from .selection.base import BatchInfo
from .training.evaluate import check_compatible, evaluate
from .training.step import NonFiniteLossError, dist_info, train_step

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "paper_config", "pick_device", "train",
           "evaluate", "load_checkpoint"]

SELECT_METRICS = ("macro_f1", "balanced_accuracy", "macro_auroc", "loss")
# fields that may differ between a run and its resume
_RESUME_FREE = ("epochs", "num_workers", "pin_memory", "eval_every")


@dataclass
class TrainConfig:
    """Everything a training run depends on (validated on creation).

    Example:
        >>> TrainConfig(epochs=2, loss="cb_ce").batch_size
        32
        >>> TrainConfig(loss="focal")
        Traceback (most recent call last):
        ...
        ValueError: Unknown loss 'focal': expected one of 'ce', 'cb_ce', 'bce'.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    lr_gamma: float = 0.98          # StepLR, one step per epoch
    loss: str = "ce"                # 'ce' | 'cb_ce' (class-balanced, Cui et al.) | 'bce' (multi-label)
    cb_beta: float = 0.9999
    seed: int = 42
    device: str = "auto"            # 'auto' -> CUDA, then MPS, then CPU
    amp: bool = True                # autocast fp16 + GradScaler; only takes effect on CUDA
    num_workers: int = 0
    pin_memory: bool | None = None  # None: on when training on CUDA
    focus_score: str = "topk_mean"
    grad_clip: float | None = None  # max gradient L2 norm
    eval_every: int = 1             # validate every k epochs (and after the last one)
    select_metric: str = "macro_f1"  # validation metric that picks best.pt ('loss': lowest)

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        check_range("weight_decay", self.weight_decay, 0.0)
        check_range("lr_gamma", self.lr_gamma, 0.0, 1.0, low_inclusive=False)
        check_choice("loss", self.loss, LOSSES)
        check_range("cb_beta", self.cb_beta, 0.0, 1.0, high_inclusive=False)
        check_int("seed", self.seed, minimum=0)
        if not isinstance(self.device, str):
            raise TypeError(f"Expected device as a string ('auto', 'cpu', 'cuda', 'cuda:1', 'mps'), "
                            f"got {self.device!r}.")
        check_int("num_workers", self.num_workers, minimum=0)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, 0.0, low_inclusive=False)
        check_int("eval_every", self.eval_every, minimum=1)
        check_choice("select_metric", self.select_metric, SELECT_METRICS)
        if not isinstance(self.focus_score, str) or not self.focus_score:
            raise TypeError(f"Expected focus_score as a registered name (e.g. 'topk_mean'), got {self.focus_score!r}.")


def paper_config(**overrides: Any) -> TrainConfig:
    """The ERTS reference set-up: AdamW 3e-4, wd 0.01, StepLR 0.98, batch 32, seed 42, 100 epochs, cb_ce.

    Example:
        >>> c = paper_config(epochs=3); (c.epochs, c.loss, c.lr, c.lr_gamma)
        (3, 'cb_ce', 0.0003, 0.98)
    """
    base = dict(epochs=100, batch_size=32, lr=3e-4, weight_decay=0.01, lr_gamma=0.98, seed=42, loss="cb_ce")
    return TrainConfig(**{**base, **overrides})


def pick_device(pref: str = "auto") -> torch.device:
    """The device to train on: 'auto' takes CUDA, then Apple MPS, then the CPU.

    Raises:
        ValueError: a named device (e.g. 'cuda') is not available here.

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(pref)
    except RuntimeError:
        raise ValueError(f"Unknown device {pref!r}: expected 'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {pref!r} asked for, but CUDA is not available here: use device='auto' or 'cpu'.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"Device {pref!r} asked for, but MPS is not available here: use device='auto' or 'cpu'.")
    return dev


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


# --------------------------------------------------------------------------------------------------
# checks and set-up
# --------------------------------------------------------------------------------------------------
def _selection_api() -> tuple[Any, Any, Any, Any]:
    """(CostLedger, SelectionLog, ModelBatchScorer, make_policy) from :mod:`erts_kit.selection`."""
    from . import selection as s
    return s.CostLedger, s.SelectionLog, s.ModelBatchScorer, s.make_policy


def _policy_params(policy: Any) -> dict[str, Any] | None:
    return dict(policy.params()) if hasattr(policy, "params") else None


def _resume_state(run_dir: Path, config: TrainConfig, policy: Any) -> dict[str, Any] | None:
    path = run_dir / "last.pt"
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    old = ckpt["config"]
    diff = {k: (old.get(k), v) for k, v in asdict(config).items() if k not in _RESUME_FREE and old.get(k) != v}
    if diff:
        raise ValueError(f"Cannot resume {path}: the config differs in {diff} (checkpoint, now). Use the same "
                         "config (only epochs, num_workers, pin_memory, eval_every may change) or a new run_dir.")
    if ckpt.get("policy_name") != policy.name or ckpt.get("policy_params") != _policy_params(policy):
        raise ValueError(f"Cannot resume {path}: it was trained with policy {ckpt.get('policy_name')!r} "
                         f"{ckpt.get('policy_params')}, not {policy.name!r} {_policy_params(policy)}.")
    return ckpt


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------
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
        compute_equivalent_epochs, seconds_<phase>..., device``.

    Raises:
        ValueError: data/model/loss mismatch (leads, classes, shapes, splits), or run_dir already holds a
            run and ``resume`` is False.
        NonFiniteLossError: the loss became NaN/inf (epoch and step in the message).

    Example:
        >>> from erts_kit.models import build_model
        >>> x = np.random.default_rng(0).standard_normal((24, 1, 64)).astype("float32")
        >>> d = ECGData(x, np.arange(24) % 2, ["a", "b"], fs=64, splits={"train": range(16), "val": range(16, 24)})
        >>> res = train(build_model("small_cnn", 1, 2), d, config=TrainConfig(epochs=1), progress=False)
        >>> res.history[["epoch", "kept", "effective_epochs", "compute_equivalent_epochs"]].to_dict("records")
        [{'epoch': 0, 'kept': 16, 'effective_epochs': 1.0, 'compute_equivalent_epochs': 1.0}]
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"Expected config as a TrainConfig, got {type(config).__name__}.")
    CostLedger, SelectionLog, ModelBatchScorer, make_policy = _selection_api()
    policy = make_policy("full") if policy is None else policy
    # An ERTS policy names its own focus score; the policy's choice wins, loudly if it differs.
    focus_name = getattr(policy, "focus_name", None) or config.focus_score
    if focus_name != config.focus_score and config.focus_score != "topk_mean":
        warnings.warn(f"config.focus_score={config.focus_score!r} differs from the policy's focus "
                      f"{focus_name!r}; the policy's score is used.", stacklevel=2)
    distributed, rank, world, created_pg = dist_info()
    device = pick_device(config.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    main = rank == 0
    model.to(device)
    check_compatible(model, data, config.loss, device)
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and (run_dir / "last.pt").exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run (last.pt): pass resume=True to continue it, "
                         "or choose a new run_dir.")
    if progress and main:
        amp_note = "AMP on" if config.amp and device.type == "cuda" else "AMP off"
        tqdm.write(f"erts_kit.train: device {device} ({amp_note}), policy {policy.name!r}, "
                   f"{len(data.splits['train'])} training samples" + (f", {world} ranks" if distributed else ""))

    # -- seeds, data, optimizer -----------------------------------------------------------------------
    torch.manual_seed(config.seed + rank)
    np.random.seed(config.seed + rank)
    import random
    random.seed(config.seed + rank)
    train_idx = data.splits["train"]
    n_train = len(train_idx)
    dataset = ECGDataset(data, train_idx)
    gen = torch.Generator().manual_seed(config.seed)
    sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=config.seed) if distributed else None
    pin = device.type == "cuda" if config.pin_memory is None else config.pin_memory
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                        generator=gen, num_workers=config.num_workers, pin_memory=pin)
    criterion = make_loss(config.loss, data.labels[train_idx], data.n_classes, config.cb_beta).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_gamma)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if distributed else model
    ledger = CostLedger(sync_cuda=device.type == "cuda")     # this rank's
    log = SelectionLog()                                       # this rank's, since the last gather
    full_ledger, full_log = (ledger, log) if not distributed else (None, SelectionLog())  # rank 0: all ranks
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    best = {"epoch": -1, "score": None}
    best_state: dict[str, torch.Tensor] | None = None

    # -- resume ---------------------------------------------------------------------------------------
    ckpt = _resume_state(run_dir, config, policy) if (resume and run_dir is not None) else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        if not distributed:
            set_rng_state(ckpt["rng"], gen)
        if ckpt.get("policy_state") is not None and hasattr(policy, "load_state_dict"):
            policy.load_state_dict(ckpt["policy_state"])
        led_state = copy.deepcopy(ckpt["ledger"])
        if not main:  # rank 0 carries the totals so far; the other ranks start from zero counts
            led_state["counts"] = [[0] * len(r) for r in led_state["counts"]]
            led_state["times"] = [{} for _ in led_state["times"]]
        ledger.load_state_dict(led_state)
        if distributed:
            full_ledger = CostLedger()
            full_ledger.load_state_dict(ckpt["ledger"])
            full_log.load_state_dict(ckpt["selection_log"])
        else:
            log.load_state_dict(ckpt["selection_log"])
        history = pd.DataFrame(ckpt["history"]).to_dict("records")
        start_epoch, step, best = int(ckpt["epoch"]) + 1, int(ckpt["step"]), dict(ckpt["best"])
        if progress and main:
            tqdm.write(f"erts_kit.train: resumed {run_dir / 'last.pt'} after epoch {ckpt['epoch']}")

    def checkpoint_state(epoch: int) -> dict[str, Any]:
        return {"epoch": epoch, "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": rng_state(gen),
                "history": frame_to_dict(pd.DataFrame(history)), "config": asdict(config),
                "ledger": full_ledger.state_dict(), "selection_log": full_log.state_dict(), "best": best,
                "policy_name": policy.name, "policy_params": _policy_params(policy), "device": str(device),
                "policy_state": policy.state_dict() if hasattr(policy, "state_dict") else None}

    # -- epochs ---------------------------------------------------------------------------------------
    epoch_bar = tqdm(range(start_epoch, config.epochs), desc="epochs", disable=not (progress and main),
                     initial=start_epoch, total=config.epochs)
    for epoch in epoch_bar:
        t_epoch = time.perf_counter()
        if sampler is not None:
            sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        sums = torch.zeros(4, dtype=torch.float64)  # loss sum, weight sum, kept, seen
        batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not (progress and main))
        it = iter(batches)
        while True:
            with ledger.phase("data"):
                item = next(it, None)
            if item is None:
                break
            x, y, idx = item
            x, y = x.to(device, non_blocking=pin), y.to(device, non_blocking=pin)
            batch = BatchInfo(x=x, y=y, indices=idx.to(device), step=step)
            scorer = ModelBatchScorer(model, batch, ledger=ledger, focus_name=focus_name, amp=use_amp)
            sel = policy.select(epoch, batch, scorer)
            log.add(epoch, idx, sel)
            keep = sel.keep.to(device=x.device, dtype=torch.bool)
            n_keep = int(keep.sum())
            sums[3] += len(idx)
            with ledger.phase("train"):
                train_step(net, model, criterion, optimizer, scaler, config.grad_clip, x, y, keep, n_keep,
                            distributed, world, use_amp, epoch, step, sums)
            ledger.add_train(n_keep)
            step += 1
        with warnings.catch_warnings():  # an epoch without any optimizer step is legitimate here
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            scheduler.step()
        if distributed:
            dist.all_reduce(sums)
        ledger.end_epoch(epoch)
        if distributed:  # gather the ledgers (whole) and this epoch's logs to rank 0
            states = [None] * world
            dist.all_gather_object(states, ledger.state_dict())
            log_states = [None] * world
            dist.all_gather_object(log_states, log.state_dict())
            if main:
                full_ledger = CostLedger.merge(states)
                full_log = SelectionLog.merge([full_log, *log_states])
            log = SelectionLog()
        kept_total = (history[-1]["kept_cum"] if history else 0) + int(sums[2])
        row: dict[str, Any] = {"epoch": epoch, "train_loss": float(sums[0] / sums[1]) if sums[1] > 0 else float("nan"),
                               "val_loss": float("nan"), "val_macro_f1": float("nan"), "lr": lr,
                               "kept": int(sums[2]), "kept_frac": float(sums[2] / max(sums[3], 1)),
                               "kept_cum": kept_total, "effective_epochs": kept_total / n_train}
        # -- validation and checkpoints
        if (epoch + 1) % config.eval_every == 0 or epoch == config.epochs - 1:
            if distributed:  # BatchNorm statistics of rank 0 everywhere, so every rank scores the same model
                for b in model.buffers():
                    dist.broadcast(b, 0)
            t0 = time.perf_counter()
            val = evaluate(model, data, "val", batch_size=max(config.batch_size, 64), loss=criterion, amp=use_amp)
            row["seconds_eval"] = time.perf_counter() - t0
            row["val_loss"] = val["loss"]
            row["val_macro_f1"] = float(val["metrics"]["macro_f1"])
            score = val["loss"] if config.select_metric == "loss" else float(val["metrics"][config.select_metric])
            row[f"val_{config.select_metric}"] = score
            better = best["score"] is None or (score < best["score"] if config.select_metric == "loss"
                                               else score > best["score"])
            if better and np.isfinite(score):
                best = {"epoch": epoch, "score": float(score)}
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if full_ledger is not None:
            table = full_ledger.epoch_table(n_train=n_train).iloc[-1]
            row["compute_equivalent_epochs"] = float(table["cum_compute_epochs"])
            for col in table.index:
                if str(col).startswith("time_"):
                    row["seconds_" + str(col)[5:]] = float(table[col])
        row["seconds"] = time.perf_counter() - t_epoch
        row["device"] = str(device)
        history.append(row)
        epoch_bar.set_postfix(loss=row["train_loss"], val_f1=row["val_macro_f1"], kept=row["kept_frac"])
        if run_dir is not None and main:
            if best["epoch"] == epoch:
                save_checkpoint(run_dir / "best.pt", {"epoch": epoch, "model": best_state, "best": best,
                                                      "config": asdict(config), "policy_name": policy.name})
            save_checkpoint(run_dir / "last.pt", checkpoint_state(epoch))

    # -- best weights back, test metrics ----------------------------------------------------------------
    if distributed:
        dist.barrier()
    best_path = run_dir / "best.pt" if run_dir is not None and (run_dir / "best.pt").exists() else None
    if best_state is None and best_path is not None:
        best_state = load_checkpoint(best_path)["model"]
    if best_state is not None:
        model.load_state_dict(best_state)
    test_metrics = None
    if "test" in data.splits and len(data.splits["test"]):
        out = evaluate(model, data, "test", batch_size=max(config.batch_size, 64), loss=criterion, amp=use_amp)
        test_metrics = {"loss": out["loss"], **out["metrics"]}
    if created_pg:
        dist.destroy_process_group()
    hist = pd.DataFrame(history).drop(columns=["kept_cum"], errors="ignore")
    return TrainResult(history=hist, ledger=full_ledger, selection_log=full_log if main else None,
                       best_checkpoint=best_path, model=model, test_metrics=test_metrics,
                       best_epoch=int(best["epoch"]), device=str(device), run_dir=run_dir)
