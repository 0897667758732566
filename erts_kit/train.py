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
one zero input to join DDP's gradient all-reduce (no hang, no gradient contribution); a step where no
rank kept anything is skipped on all ranks. Validation runs on every rank (same decision everywhere);
the ledger and the selection log are gathered to rank 0, which alone writes checkpoints.
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
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
from .losses import LOSSES, ClassificationLoss, make_loss
from .selection.base import BatchInfo

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "paper_config", "pick_device", "train",
           "evaluate", "load_checkpoint"]

SELECT_METRICS = ("macro_f1", "balanced_accuracy", "macro_auroc", "loss")
# fields that may differ between a run and its resume
_RESUME_FREE = ("epochs", "num_workers", "pin_memory", "eval_every")


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN/inf; ``epoch`` and ``step`` say where (the last good checkpoint stays)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"Non-finite training loss ({value}) at epoch {epoch}, step {step}: lower the lr, "
                         f"set grad_clip, or check the data for NaN/inf values. The last good checkpoint is kept.")
        self.epoch, self.step = epoch, step


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
            raise TypeError(f"Expected device as a string ('auto', 'cpu', 'cuda', 'cuda:1', 'mps'), got {self.device!r}.")
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
# evaluation
# --------------------------------------------------------------------------------------------------
def _metrics(y_true: np.ndarray, prob: np.ndarray, class_names: list[str], multilabel: bool) -> dict[str, Any]:
    try:
        from .metrics import compute_metrics
    except ImportError:  # metrics module not there yet: macro-F1 only
        from sklearn.metrics import f1_score
        pred = (prob >= 0.5).astype(int) if multilabel else prob.argmax(1)
        labels = None if multilabel else list(range(len(class_names)))
        return {"macro_f1": float(f1_score(y_true, pred, average="macro", labels=labels, zero_division=0))}
    return compute_metrics(y_true, prob, class_names, multilabel=multilabel)


@torch.no_grad()
def evaluate(model: nn.Module, data: ECGData, split: str = "val", batch_size: int = 256, *,
             loss: ClassificationLoss | None = None, device: torch.device | str | None = None,
             amp: bool = False) -> dict[str, Any]:
    """Loss, probabilities and metrics of ``model`` on one split (model mode restored afterwards).

    Returns:
        dict with ``split``, ``loss`` (``loss`` or plain CE/BCE), ``probabilities`` (n, C) float32,
        ``labels``, ``indices`` (dataset indices) and ``metrics`` (``erts_kit.metrics.compute_metrics``).

    Example:
        >>> d = ECGData(np.zeros((4, 1, 16), np.float32), [0, 1, 0, 1], ["a", "b"], 100, splits={"val": [0, 1, 2, 3]})
        >>> m = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> out = evaluate(m, d, "val"); out["probabilities"].shape, round(out["loss"], 4)
        ((4, 2), 0.6931)
    """
    idx = data.split(split)
    device = next(model.parameters()).device if device is None else torch.device(device)
    loss = loss if loss is not None else ClassificationLoss("bce" if data.multilabel else "ce")
    was_training = model.training
    model.eval()
    # own generator: evaluating never moves the global RNG, so eval_every cannot change training
    loader = DataLoader(ECGDataset(data, idx), batch_size=batch_size, shuffle=False, generator=torch.Generator())
    probs, total, weight = [], 0.0, 0.0
    try:
        for x, y, _ in loader:
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp and device.type == "cuda"):
                logits = model(x)
            logits = logits.float()
            losses, w = loss.per_sample(logits, y)
            total += float(losses.sum())
            weight += float(w.sum())
            probs.append((torch.sigmoid(logits) if data.multilabel else torch.softmax(logits, 1)).cpu())
    finally:
        model.train(was_training)
    prob = torch.cat(probs).numpy().astype(np.float32) if probs else np.zeros((0, data.n_classes), np.float32)
    labels = np.asarray(data.labels[idx])
    return {"split": split, "loss": total / max(weight, 1e-12), "probabilities": prob, "labels": labels,
            "indices": idx, "metrics": _metrics(labels, prob, list(data.class_names), data.multilabel)}


# --------------------------------------------------------------------------------------------------
# checks and set-up
# --------------------------------------------------------------------------------------------------
def _check_compatible(model: nn.Module, data: ECGData, config: TrainConfig, device: torch.device) -> None:
    """Raise before any training when data, model and loss do not fit together."""
    if not isinstance(data, ECGData):
        raise TypeError(f"Expected data as an erts_kit ECGData, got {type(data).__name__}: "
                        "build one with erts_kit.data.load_dataset(...) or ECGData(signals, labels, ...).")
    for s in ("train", "val"):
        if s not in data.splits or len(data.splits[s]) == 0:
            raise ValueError(f"Expected a non-empty {s!r} split in data.splits, got splits {sorted(data.splits)}: "
                             "set data.splits = {'train': ..., 'val': ..., 'test': ...}.")
    n_leads, n_classes = getattr(model, "n_leads", None), getattr(model, "n_classes", None)
    if n_leads is not None and n_leads != data.n_leads:
        raise ValueError(f"Lead-count mismatch: the model takes {n_leads} leads, the data has {data.n_leads}: "
                         f"rebuild the model with build_model(..., n_leads={data.n_leads}).")
    if n_classes is not None and n_classes != data.n_classes:
        raise ValueError(f"Class-count mismatch: the model outputs {n_classes} classes, the data has "
                         f"{data.n_classes} ({data.class_names}): rebuild it with n_classes={data.n_classes}.")
    if data.multilabel != (config.loss == "bce"):
        want = "'bce'" if data.multilabel else "'ce' or 'cb_ce'"
        kind = "multi-label (N, C)" if data.multilabel else "single-label (N,)"
        raise ValueError(f"Loss {config.loss!r} does not fit {kind} labels: use loss={want}.")
    was_training = model.training
    model.eval()
    x = torch.from_numpy(np.array(data.signals[data.splits["train"][:1]], dtype=np.float32)).to(device)
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as err:
        raise ValueError(f"Shape mismatch: the model failed on one training sample of shape {tuple(x.shape)} "
                         f"(batch, leads, T): {type(err).__name__}: {err}") from err
    finally:
        model.train(was_training)
    if tuple(out.shape) != (1, data.n_classes):
        raise ValueError(f"Class-count mismatch: the model returned logits of shape {tuple(out.shape)} for one "
                         f"sample, expected (1, {data.n_classes}) for classes {data.class_names}.")
    n_bad = int((~np.isfinite(np.asarray(data.signals[data.splits["train"]], dtype=np.float32)))
                .reshape(len(data.splits["train"]), -1).any(1).sum())
    if n_bad:
        warnings.warn(f"{n_bad} training samples hold NaN/inf values: training stops with NonFiniteLossError "
                      f"as soon as one of them is trained on.", stacklevel=3)


def _selection_api() -> tuple[Any, Any, Any, Any]:
    """(CostLedger, SelectionLog, ModelBatchScorer, make_policy) from :mod:`erts_kit.selection`."""
    from . import selection as s
    return s.CostLedger, s.SelectionLog, s.ModelBatchScorer, s.make_policy


def _dist_info() -> tuple[bool, int, int, bool]:
    """(distributed, rank, world_size, created_here); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not (dist.is_available() and dist.is_initialized()):
        return False, 0, 1, False
    created = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        created = True
    return True, dist.get_rank(), dist.get_world_size(), created


def _resume_state(run_dir: Path, config: TrainConfig, policy_name: str) -> dict[str, Any] | None:
    path = run_dir / "last.pt"
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    old = ckpt["config"]
    diff = {k: (old.get(k), v) for k, v in asdict(config).items() if k not in _RESUME_FREE and old.get(k) != v}
    if diff:
        raise ValueError(f"Cannot resume {path}: the config differs in {diff} (checkpoint, now). Use the same "
                         "config (only epochs, num_workers, pin_memory, eval_every may change) or a new run_dir.")
    if ckpt.get("policy_name") != policy_name:
        raise ValueError(f"Cannot resume {path}: it was trained with policy {ckpt.get('policy_name')!r}, "
                         f"not {policy_name!r}.")
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
        >>> from erts_kit.models import build_model  # doctest: +SKIP
        >>> res = train(build_model("small_cnn", 12, 5), data, config=TrainConfig(epochs=2))  # doctest: +SKIP
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"Expected config as a TrainConfig, got {type(config).__name__}.")
    CostLedger, SelectionLog, ModelBatchScorer, make_policy = _selection_api()
    policy = make_policy("full") if policy is None else policy
    distributed, rank, world, created_pg = _dist_info()
    device = pick_device(config.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    main = rank == 0
    model.to(device)
    _check_compatible(model, data, config, device)
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
    ckpt = _resume_state(run_dir, config, policy.name) if (resume and run_dir is not None) else None
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
                "policy_name": policy.name, "device": str(device),
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
            scorer = ModelBatchScorer(model, batch, ledger=ledger, focus_name=config.focus_score, amp=use_amp)
            sel = policy.select(epoch, batch, scorer)
            log.add(epoch, idx, sel)
            keep = sel.keep.to(device=x.device, dtype=torch.bool)
            n_keep = int(keep.sum())
            sums[3] += len(idx)
            with ledger.phase("train"):
                _train_step(net, model, criterion, optimizer, scaler, config, x, y, keep, n_keep,
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


def _train_step(net: nn.Module, model: nn.Module, criterion: ClassificationLoss, optimizer: torch.optim.Optimizer,
                scaler: torch.amp.GradScaler, config: TrainConfig, x: torch.Tensor, y: torch.Tensor,
                keep: torch.Tensor, n_keep: int, distributed: bool, world: int, use_amp: bool, epoch: int, step: int,
                sums: torch.Tensor) -> None:
    """One optimizer step on the kept samples (see the module docstring for the DDP scaling)."""
    w_local = criterion.sample_weights(y[keep]).sum().float() if n_keep else torch.zeros((), device=x.device)
    w_global = w_local.detach().clone()
    if distributed:
        dist.all_reduce(w_global)
    if float(w_global) <= 0:  # nobody kept anything: no step on any rank
        return
    xk, yk = (x[keep], y[keep]) if n_keep else (torch.zeros_like(x[:1]), y[:1])
    model.train()
    optimizer.zero_grad(set_to_none=True)
    saved = None if n_keep else [b.detach().clone() for b in model.buffers()]  # BN stats: not from the dummy
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=use_amp):
        logits = net(xk)
    if saved is not None:
        with torch.no_grad():
            for b, v in zip(model.buffers(), saved):
                b.copy_(v)
    losses, _ = criterion.per_sample(logits.float(), yk)
    loss_sum = losses.sum() if n_keep else losses.sum() * 0.0
    bad = torch.tensor([0.0 if torch.isfinite(loss_sum) else 1.0], device=x.device)
    if distributed:
        dist.all_reduce(bad)
    if bad.item() > 0:
        raise NonFiniteLossError(epoch, step, float(loss_sum.detach()))
    scaler.scale(loss_sum * (world / w_global)).backward()
    if config.grad_clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    sums[0] += float(loss_sum.detach())
    sums[1] += float(w_local)
    sums[2] += n_keep
