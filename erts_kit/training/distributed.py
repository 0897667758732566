"""DistributedDataParallel glue for the training loop: process group, device per rank, gathers.

Under ``torchrun`` (``WORLD_SIZE > 1``) the loop runs DDP (gloo on CPU, NCCL on CUDA) with a
``DistributedSampler``; every rank selects from its own batch (the loss scaling that makes the update
equal a single process's on the union batch is in :mod:`erts_kit.training.step`). Validation runs on
every rank with rank 0's BatchNorm statistics (same decision everywhere); the cost ledger and the
selection log are gathered to rank 0, which alone writes checkpoints. Outside ``torchrun`` every
function here is a no-op or returns the single-process answer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..selection.ledger import CostLedger
from ..selection.log import SelectionLog

__all__ = ["Ranks", "broadcast_buffers", "dist_info", "gather_selection", "rank_device", "ranks", "wrap_ddp"]


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: distributed or not, its rank, the world size, who made the group."""

    distributed: bool
    rank: int
    world: int
    created_group: bool

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints and holds the gathered ledger and log."""
        return self.rank == 0


def dist_info() -> tuple[bool, int, int, bool]:
    """(distributed, rank, world_size, created_here); starts the process group under torchrun.

    Example:
        >>> dist_info()  # a plain process
        (False, 0, 1, False)
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not (dist.is_available() and dist.is_initialized()):
        return False, 0, 1, False
    created = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        created = True
    return True, dist.get_rank(), dist.get_world_size(), created


def ranks() -> Ranks:
    """:func:`dist_info` as a :class:`Ranks`.

    Example:
        >>> ranks().main
        True
    """
    return Ranks(*dist_info())


def rank_device(device: torch.device, distributed: bool, rank: int) -> torch.device:
    """The device of this rank: its own GPU (``LOCAL_RANK``) under DDP on CUDA, else ``device``.

    Example:
        >>> rank_device(torch.device("cpu"), distributed=False, rank=0)
        device(type='cpu')
    """
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    return device


def wrap_ddp(model: nn.Module, device: torch.device, distributed: bool) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when distributed, else ``model`` itself.

    Example:
        >>> m = nn.Linear(2, 2); wrap_ddp(m, torch.device("cpu"), distributed=False) is m
        True
    """
    if not distributed:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm statistics) on every rank, so every rank validates the same model."""
    for b in model.buffers():
        dist.broadcast(b, 0)


def gather_selection(ledger: CostLedger, log: SelectionLog, full_log: SelectionLog, world: int,
                     main: bool) -> tuple[CostLedger | None, SelectionLog]:
    """Gather every rank's ledger (whole) and this epoch's log to rank 0.

    Returns:
        (the merged ledger on rank 0, else None; the merged log on rank 0, else ``full_log`` unchanged).
    """
    states: list[Any] = [None] * world
    dist.all_gather_object(states, ledger.state_dict())
    log_states: list[Any] = [None] * world
    dist.all_gather_object(log_states, log.state_dict())
    if not main:
        return None, full_log
    return CostLedger.merge(states), SelectionLog.merge([full_log, *log_states])
