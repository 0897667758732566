"""The class-balanced sampler (``TrainConfig(sampler="class_balanced")``), single-process and DDP alike.

Each class present in the training split is drawn with the same probability, ``1 / n_classes_present``,
and the samples of a class equally often among themselves: sample ``i`` of class ``c`` has weight
``1 / (n_present * n_c)``. Draws are with replacement, ``len(split)`` per epoch (so an "epoch" still
shows as many samples as the plain shuffle): a rare class's samples repeat within an epoch, a common
class's samples are not all seen. Used with a class-balanced *loss* as well, the two corrections
multiply; pick one.

The draw of epoch ``e`` comes from a generator seeded by ``(seed, e)``, so a run draws the same
batches when repeated and when resumed. Under DDP every rank draws the same sequence and keeps the
positions ``rank, rank + world, ...`` (the ranks see disjoint parts of one balanced draw), which is
what :class:`torch.utils.data.distributed.DistributedSampler` does for a shuffle.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from .._validation import check_int

__all__ = ["ClassBalancedSampler", "class_balanced_sample_weights"]


def class_balanced_sample_weights(labels: Any) -> torch.Tensor:
    """(n,) float64 draw probabilities: every class present gets the same total, shared by its samples.

    Raises:
        ValueError: multi-hot (N, C) labels, or no sample at all.

    Example:
        >>> class_balanced_sample_weights([0, 0, 0, 1]).tolist()  # class 0: 1/2 shared by 3, class 1: 1/2
        [0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.5]
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"sampler='class_balanced' needs single-label targets (N,), got labels of shape {y.shape}: "
                         "use sampler='shuffle' for multi-label data.")
    if y.size == 0:
        raise ValueError("sampler='class_balanced' needs at least one training sample, got none.")
    y = y.astype(np.int64)
    counts = np.bincount(y)
    n_present = int((counts > 0).sum())
    return torch.from_numpy(1.0 / (n_present * counts[y].astype(np.float64)))


class ClassBalancedSampler(Sampler[int]):
    """Positions of a training split, drawn so that every class present is equally frequent (module docstring).

    Args:
        labels: (n,) class id of each position of the dataset the loader reads.
        seed: seeds the draw of every epoch, with the epoch (:meth:`set_epoch`).
        rank, world: this process's rank and the number of DDP ranks (1 without DDP).

    Example:
        >>> s = ClassBalancedSampler([0, 0, 0, 0, 0, 0, 1, 1], seed=0)
        >>> len(s), all(0 <= i < 8 for i in s), list(s) == list(s)  # same epoch, same draw
        (8, True, True)
    """

    def __init__(self, labels: Any, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.weights = class_balanced_sample_weights(labels)
        self.seed = check_int("seed", seed, minimum=0)
        self.world = check_int("world", world, minimum=1)
        self.rank = check_int("rank", rank, minimum=0)
        if self.rank >= self.world:
            raise ValueError(f"Expected rank < world ({self.world}), got rank {self.rank}.")
        self.per_rank = math.ceil(len(self.weights) / self.world)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draw :meth:`__iter__` gives (the training loop calls it every epoch)."""
        self.epoch = check_int("epoch", epoch, minimum=0)

    def __iter__(self) -> Iterator[int]:
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, dtype=np.uint64)[0]
        gen = torch.Generator().manual_seed(int(state))
        draws = torch.multinomial(self.weights, self.per_rank * self.world, replacement=True, generator=gen)
        return iter(draws[self.rank::self.world].tolist())

    def __len__(self) -> int:
        return self.per_rank
