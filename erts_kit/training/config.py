"""What a training run depends on: :class:`TrainConfig`, the paper's preset, and the device choice.

Set-up follows the ERTS reference (arXiv 2606.12252): AdamW 3e-4, weight decay 0.01, StepLR 0.98 per
epoch, batch 32, seed 42; :func:`paper_config` gives it (with the class-balanced loss of its PDD/ERTS
modes and 100 epochs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_choice, check_int, check_range
from .losses import LOSSES

__all__ = ["LEGACY_DEFAULTS", "RESUME_FREE", "SAMPLERS", "SELECT_METRICS", "ScheduleWarning", "TrainConfig",
           "comparable_config", "paper_config", "pick_device"]

SELECT_METRICS = ("macro_f1", "balanced_accuracy", "macro_auroc", "loss")
SAMPLERS = ("shuffle", "class_balanced")
#: Fields that may differ between a run and its resume.
RESUME_FREE = ("epochs", "num_workers", "pin_memory", "eval_every")
#: Values of fields added after runs were saved, that reproduce such a run (a checkpoint or
#: settings.json without the key ran like this).
LEGACY_DEFAULTS: dict[str, Any] = {"sampler": "shuffle", "cb_max_weight_ratio": None, "select_after_warmup": False}


class ScheduleWarning(UserWarning):
    """A selection policy's schedule makes the run say less than it seems (never filters, or a warm-up best epoch)."""


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """A saved config (``asdict(TrainConfig)``) with the fields it predates filled in, for comparisons.

    Missing fields take :data:`LEGACY_DEFAULTS`; ``cb_max_weight_ratio`` is blanked unless the loss
    is ``cb_ce`` (it changes nothing else), so runs saved before the cap existed still resume.

    Example:
        >>> comparable_config({"loss": "ce", "cb_max_weight_ratio": 50.0})["cb_max_weight_ratio"] is None
        True
        >>> comparable_config({"loss": "cb_ce"})["sampler"]
        'shuffle'
    """
    out = {**LEGACY_DEFAULTS, **config}
    if out.get("loss") != "cb_ce":
        out["cb_max_weight_ratio"] = None
    return out


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
    # 'shuffle' | 'class_balanced': draw each class equally often (with replacement), see training.sampling
    sampler: str = "shuffle"
    # cb_ce: the largest class weight is at most this many times the smallest (None: no cap). 50 leaves
    # MIT-BIH DS1's S, V, F weights as Cui et al. give them and brings each Q beat from 1,238x to 50x (losses.py)
    cb_max_weight_ratio: float | None = 50.0
    select_after_warmup: bool = False  # best.pt only among epochs >= the policy's warm_up

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
        check_choice("sampler", self.sampler, SAMPLERS)
        if self.cb_max_weight_ratio is not None:
            check_range("cb_max_weight_ratio", self.cb_max_weight_ratio, 1.0)
        if not isinstance(self.select_after_warmup, bool):
            raise TypeError(f"Expected select_after_warmup as True or False, got {self.select_after_warmup!r}.")
        if not isinstance(self.focus_score, str) or not self.focus_score:
            raise TypeError(f"Expected focus_score as a registered name (e.g. 'topk_mean'), got {self.focus_score!r}.")


def paper_config(**overrides: Any) -> TrainConfig:
    """The ERTS reference set-up: AdamW 3e-4, wd 0.01, StepLR 0.98, batch 32, seed 42, 100 epochs, cb_ce
    with uncapped class weights (``cb_max_weight_ratio=None``, as the reference code).

    Example:
        >>> c = paper_config(epochs=3); (c.epochs, c.loss, c.lr, c.lr_gamma, c.cb_max_weight_ratio)
        (3, 'cb_ce', 0.0003, 0.98, None)
    """
    base = dict(epochs=100, batch_size=32, lr=3e-4, weight_decay=0.01, lr_gamma=0.98, seed=42, loss="cb_ce",
                cb_max_weight_ratio=None)
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
