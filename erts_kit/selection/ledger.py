"""The honest cost ledger: what a run pushed through each pass, and how long each phase took.

Effective epochs (EE) as published by PDD/ERTS count only the samples that went through a
training forward + backward. Per-batch selection also forwards every sample to score it and, under
ERTS, runs Grad-CAM; EE leaves both out. The ledger counts all three and the wall-clock of each
phase, per epoch, so every table can show EE next to compute-equivalent epochs
(DESIGN.md "Honest cost").

Compute units per sample (a forward pass = 1):

- training step (forward + backward with weight gradients) = 3 (the usual "backward ~ 2 forwards");
- scoring forward without autograd = 1;
- Grad-CAM = ``gradcam_units``, default 2.0. The kit's shared pass runs the trunk once without
  autograd (counted as the scoring forward) and re-runs the head with autograd plus a backward to the
  explanation layer (input gradients only). 2.0 is a deliberately generous count of that re-run +
  partial backward; a value measured with ``benchmarks/`` can replace it.

Example:
    >>> led = CostLedger()
    >>> led.add_scored(100); led.add_gradcam(40); led.add_train(30)
    >>> led.end_epoch(0)
    >>> led.effective_epochs(n_train=100)
    0.3
    >>> round(led.compute_equivalent_epochs(100, gradcam_units=2.0), 4)  # (90 + 100 + 80) / 300
    0.9
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import torch

from .._validation import check_int, check_range

__all__ = ["COUNTERS", "GRADCAM_UNITS", "SCORE_UNITS", "TRAIN_UNITS", "CostLedger"]

COUNTERS = ("scored", "gradcam", "trained")
TRAIN_UNITS = 3.0
SCORE_UNITS = 1.0
GRADCAM_UNITS = 2.0
_STATE_VERSION = 1


def _zero_counts() -> dict[str, int]:
    return {c: 0 for c in COUNTERS}


class CostLedger:
    """Sample counters (scored, gradcam, trained) and phase wall-clock, per epoch and cumulative.

    Counts add up into the *current* epoch until :meth:`end_epoch` closes it; cumulative totals
    include the open epoch. Phase names are free strings; the kit uses 'score', 'gradcam',
    'train' and 'eval'.

    Args:
        sync_cuda: call ``torch.cuda.synchronize()`` when a phase starts and ends, so GPU time lands
            in the right phase (costs a little; off by default; no-op without CUDA).

    Example:
        >>> led = CostLedger()
        >>> with led.phase("train"):
        ...     led.add_train(32)
        >>> led.end_epoch(0)
        >>> led.totals()["trained"], list(led.epoch_table().columns[:4])
        (32, ['epoch', 'scored', 'gradcam', 'trained'])
    """

    def __init__(self, sync_cuda: bool = False) -> None:
        self.sync_cuda = bool(sync_cuda)
        self._epochs: list[int] = []
        self._counts: list[dict[str, int]] = []
        self._times: list[dict[str, float]] = []
        self._cur_counts = _zero_counts()
        self._cur_times: dict[str, float] = {}

    # -- recording ---------------------------------------------------------------------------
    def _add(self, key: str, n: int) -> None:
        n = check_int(f"number of {key} samples", int(n) if isinstance(n, torch.Tensor) else n, minimum=0)
        self._cur_counts[key] += n

    def add_scored(self, n: int) -> None:
        """Count ``n`` samples through a no-grad scoring forward."""
        self._add("scored", n)

    def add_gradcam(self, n: int) -> None:
        """Count ``n`` samples through Grad-CAM (head re-run + backward to the explanation layer)."""
        self._add("gradcam", n)

    def add_train(self, n: int) -> None:
        """Count ``n`` samples through a training forward + backward."""
        self._add("trained", n)

    def add_time(self, name: str, seconds: float) -> None:
        """Add ``seconds`` of wall-clock to phase ``name`` of the current epoch."""
        check_range(f"seconds of phase {name!r}", seconds, 0.0)
        self._cur_times[name] = self._cur_times.get(name, 0.0) + float(seconds)

    def _sync(self) -> None:
        if self.sync_cuda and torch.cuda.is_available():
            torch.cuda.synchronize()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block (``time.perf_counter``) and add it to phase ``name``.

        Example:
            >>> led = CostLedger()
            >>> with led.phase("eval"):
            ...     pass
            >>> "eval" in led.totals()["time"]
            True
        """
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.add_time(name, time.perf_counter() - t0)

    def end_epoch(self, epoch: int) -> None:
        """Close the current epoch under the label ``epoch`` and start a new, empty one."""
        epoch = check_int("epoch", epoch, minimum=0)
        if self._epochs and epoch <= self._epochs[-1]:
            raise ValueError(f"Expected epochs in increasing order, got {epoch} after {self._epochs[-1]}: "
                             f"after a resume, load the ledger of the checkpoint with load_state_dict.")
        self._epochs.append(epoch)
        self._counts.append(self._cur_counts)
        self._times.append(self._cur_times)
        self._cur_counts = _zero_counts()
        self._cur_times = {}

    # -- queries -------------------------------------------------------------------------------
    @property
    def epochs(self) -> list[int]:
        """Labels of the closed epochs, in order."""
        return list(self._epochs)

    def totals(self) -> dict[str, Any]:
        """Cumulative counts (closed epochs + the open one) and total seconds per phase.

        Example:
            >>> led = CostLedger(); led.add_scored(5)
            >>> led.totals()
            {'scored': 5, 'gradcam': 0, 'trained': 0, 'time': {}}
        """
        out: dict[str, Any] = {c: sum(d[c] for d in self._counts) + self._cur_counts[c] for c in COUNTERS}
        times: dict[str, float] = {}
        for d in [*self._times, self._cur_times]:
            for k, v in d.items():
                times[k] = times.get(k, 0.0) + v
        out["time"] = times
        return out

    @staticmethod
    def _check_n(n_train: int) -> int:
        return check_int("n_train (the number of training samples)", n_train, minimum=1)

    def effective_epochs(self, n_train: int) -> float:
        """EE as published: samples through training forward + backward, divided by N.

        Example:
            >>> led = CostLedger(); led.add_train(250)
            >>> led.effective_epochs(100)
            2.5
        """
        return self.totals()["trained"] / self._check_n(n_train)

    def compute_equivalent_epochs(self, n_train: int, gradcam_units: float = GRADCAM_UNITS,
                                  train_units: float = TRAIN_UNITS, score_units: float = SCORE_UNITS) -> float:
        """Full-data epochs of compute the run cost, scoring and Grad-CAM included.

        ``(train_units * trained + score_units * scored + gradcam_units * gradcam) / (train_units * N)``;
        with the defaults ``(3 trained + 1 scored + 2 gradcam) / (3 N)``. A full-data epoch is 1.0.

        Example:
            >>> led = CostLedger(); led.add_train(60); led.add_scored(100)
            >>> led.compute_equivalent_epochs(100)   # (180 + 100) / 300
            0.9333333333333333
        """
        n = self._check_n(n_train)
        for name, v in (("gradcam_units", gradcam_units), ("train_units", train_units), ("score_units", score_units)):
            check_range(name, v, 0.0)
        if train_units == 0:
            raise ValueError("Expected train_units > 0, got 0: it is the unit of a full-data epoch.")
        t = self.totals()
        units = train_units * t["trained"] + score_units * t["scored"] + gradcam_units * t["gradcam"]
        return units / (train_units * n)

    def epoch_table(self, n_train: int | None = None, gradcam_units: float = GRADCAM_UNITS) -> pd.DataFrame:
        """One row per closed epoch: counts, seconds per phase and, given ``n_train``, EE columns.

        Columns: ``epoch, scored, gradcam, trained, time_<phase>...`` and with ``n_train`` also
        ``ee`` / ``compute_epochs`` (this epoch) and ``cum_ee`` / ``cum_compute_epochs`` (running totals).

        Example:
            >>> led = CostLedger(); led.add_train(50); led.add_scored(100); led.end_epoch(0)
            >>> led.epoch_table(n_train=100)[["epoch", "ee", "compute_epochs"]].to_dict("records")
            [{'epoch': 0, 'ee': 0.5, 'compute_epochs': 0.8333333333333334}]
        """
        phases = sorted({k for d in self._times for k in d})
        rows = []
        for e, c, t in zip(self._epochs, self._counts, self._times):
            row: dict[str, Any] = {"epoch": e, **c}
            row.update({f"time_{p}": t.get(p, 0.0) for p in phases})
            rows.append(row)
        df = pd.DataFrame(rows, columns=["epoch", *COUNTERS, *(f"time_{p}" for p in phases)])
        if n_train is not None:
            n = self._check_n(n_train)
            df["ee"] = df["trained"] / n
            df["compute_epochs"] = (TRAIN_UNITS * df["trained"] + SCORE_UNITS * df["scored"]
                                    + gradcam_units * df["gradcam"]) / (TRAIN_UNITS * n)
            df["cum_ee"] = df["ee"].cumsum()
            df["cum_compute_epochs"] = df["compute_epochs"].cumsum()
        return df

    # -- checkpoints and DDP ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain ints/floats/strings/lists only, so checkpoints load with ``weights_only=True``."""
        return {
            "version": _STATE_VERSION,
            "sync_cuda": self.sync_cuda,
            "epochs": list(self._epochs),
            "counts": [[d[c] for c in COUNTERS] for d in self._counts],
            "times": [dict(d) for d in self._times],
            "current_counts": [self._cur_counts[c] for c in COUNTERS],
            "current_times": dict(self._cur_times),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave (replaces everything recorded so far)."""
        version = state.get("version")
        if version != _STATE_VERSION:
            raise ValueError(f"Expected a CostLedger state of version {_STATE_VERSION}, got {version!r}.")
        self.sync_cuda = bool(state["sync_cuda"])
        self._epochs = [int(e) for e in state["epochs"]]
        self._counts = [dict(zip(COUNTERS, (int(v) for v in row))) for row in state["counts"]]
        self._times = [{str(k): float(v) for k, v in d.items()} for d in state["times"]]
        self._cur_counts = dict(zip(COUNTERS, (int(v) for v in state["current_counts"])))
        self._cur_times = {str(k): float(v) for k, v in state["current_times"].items()}

    @classmethod
    def merge(cls, ledgers: Sequence[CostLedger]) -> CostLedger:
        """Combine the ledgers of DDP ranks (gathered with ``all_gather_object`` of their state).

        Sample counts are summed (each rank counts its own samples); phase seconds take the
        maximum over ranks (the ranks run in parallel, the slowest one sets the wall-clock).
        Every ledger must have closed the same epochs.

        Example:
            >>> a, b = CostLedger(), CostLedger()
            >>> a.add_train(3); a.add_time("train", 1.0); a.end_epoch(0)
            >>> b.add_train(4); b.add_time("train", 2.0); b.end_epoch(0)
            >>> m = CostLedger.merge([a, b])
            >>> m.totals()
            {'scored': 0, 'gradcam': 0, 'trained': 7, 'time': {'train': 2.0}}
        """
        ledgers = [led if isinstance(led, CostLedger) else cls._from_state(led) for led in ledgers]
        if not ledgers:
            raise ValueError("Expected at least one CostLedger to merge, got none.")
        first = ledgers[0]
        for i, led in enumerate(ledgers[1:], start=1):
            if led._epochs != first._epochs:
                raise ValueError(f"Expected every rank to have closed the same epochs, got {first._epochs} "
                                 f"(rank 0) and {led._epochs} (rank {i}): merge after end_epoch on every rank.")
        out = cls(sync_cuda=first.sync_cuda)
        out._epochs = list(first._epochs)

        def sum_counts(ds: list[dict[str, int]]) -> dict[str, int]:
            return {c: sum(d[c] for d in ds) for c in COUNTERS}

        def max_times(ds: list[dict[str, float]]) -> dict[str, float]:
            keys = sorted({k for d in ds for k in d})
            return {k: max(d.get(k, 0.0) for d in ds) for k in keys}

        out._counts = [sum_counts([led._counts[i] for led in ledgers]) for i in range(len(out._epochs))]
        out._times = [max_times([led._times[i] for led in ledgers]) for i in range(len(out._epochs))]
        out._cur_counts = sum_counts([led._cur_counts for led in ledgers])
        out._cur_times = max_times([led._cur_times for led in ledgers])
        return out

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> CostLedger:
        if not isinstance(state, dict):
            raise TypeError(f"Expected CostLedger objects or their state_dict(), got {type(state).__name__}.")
        led = cls()
        led.load_state_dict(state)
        return led

    def __repr__(self) -> str:
        t = self.totals()
        return (f"CostLedger(epochs={len(self._epochs)}, scored={t['scored']}, gradcam={t['gradcam']}, "
                f"trained={t['trained']})")
