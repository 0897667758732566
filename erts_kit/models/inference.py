"""No-grad forwards in micro-batches: the same numbers as one big forward, in less CPU time and memory.

A forward without autograd keeps nothing for a backward pass, so a batch can stream through the
network a few samples at a time. On a CPU this is much faster for wide networks: at batch 256 one
(128 channels x 1000 steps) activation of ``resnet1d_wang`` is 131 MB, far larger than the caches,
and every layer writes a fresh one (page faults, memory traffic); 16 samples at a time keep each
activation near 8 MB. Measured on the 2-core dev CPU, the fast Grad-CAM engine on a batch of
256 x 12 x 1000 in eval mode (``benchmarks/bench_gradcam.py``, BENCHMARKS.md): ``resnet1d_wang`` 2.09 s in
one pass, 1.09 s in 16-sample slices; ``small_cnn`` 0.29 s -> 0.16 s. On a GPU one big batch is what keeps
the device busy, so ``chunk="auto"`` splits only on the CPU.

Micro-batching is exact only when no sample can see another: every module must be in eval mode
(BatchNorm in train mode normalises with the batch's own statistics; train-mode dropout would draw its
masks in another order). ``chunk="auto"`` therefore falls back to one whole-batch forward when any
module is training, and an explicit chunk size smaller than the batch raises there. Every erts_kit
backbone treats samples independently in eval mode; a custom :class:`ECGModel` whose trunk mixes
samples in eval mode must pass ``chunk=None``.

Example:
    >>> import torch
    >>> from erts_kit.models import build_model
    >>> m = build_model("small_cnn", n_leads=2, n_classes=3).eval()
    >>> x = torch.randn(40, 2, 64)
    >>> torch.allclose(logits_no_grad(m, x, chunk=16), m(x), atol=1e-6)
    True
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["CPU_CHUNK", "chunk_slices", "inference_chunk", "logits_no_grad"]

CPU_CHUNK = 16
"""Samples per micro-batch on the CPU under ``chunk="auto"``: among 8/16/32/64 the best or within 3% of it for
``small_cnn`` and ``resnet1d_wang`` on the dev CPU (``bench_gradcam.py --sweep``, BENCHMARKS.md)."""


def _training_module(model: nn.Module) -> str | None:
    """Name of a module in train mode, preferring one whose output depends on the batch (None: all eval)."""
    training = [(name or type(model).__name__, mod) for name, mod in model.named_modules() if mod.training]
    if not training:
        return None
    mixing = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
    return next((name for name, mod in training if isinstance(mod, mixing)), training[0][0])


def inference_chunk(model: nn.Module, x: torch.Tensor, chunk: int | str | None = "auto") -> int:
    """Samples per micro-batch a no-grad forward of ``x`` through ``model`` uses (the batch size = no split).

    Args:
        model: the network (its modules' train/eval flags decide whether splitting is exact).
        x: the batch, (B, ...).
        chunk: ``"auto"`` (:data:`CPU_CHUNK` on a CPU when every module is in eval mode, else the
            whole batch), ``None`` (whole batch) or a positive int.

    Raises:
        ValueError: a chunk size that is not a positive int, or one smaller than the batch while a
            module is in train mode (the result would depend on the split).

    Example:
        >>> import torch
        >>> m = nn.Linear(3, 2).eval()
        >>> inference_chunk(m, torch.zeros(100, 3)), inference_chunk(m.train(), torch.zeros(100, 3))
        (16, 100)
    """
    whole = max(int(x.shape[0]), 1)
    if chunk is None:
        return whole
    if chunk == "auto":
        if x.device.type != "cpu" or _training_module(model) is not None:
            return whole
        return min(CPU_CHUNK, whole)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"Expected chunk as 'auto', None or a positive int (samples per micro-batch), got {chunk!r}.")
    if chunk < whole:
        name = _training_module(model)
        if name is not None:
            raise ValueError(f"chunk={chunk} splits a batch of {whole}, but module {name!r} is in train mode, where "
                             f"samples influence each other (BatchNorm batch statistics, dropout masks): call "
                             f"model.eval() first, or pass chunk=None for one whole-batch forward.")
    return min(chunk, whole)


def chunk_slices(model: nn.Module, x: torch.Tensor, chunk: int | str | None = "auto") -> list[slice]:
    """The slices of the batch axis a micro-batched pass of ``x`` through ``model`` takes, in order.

    Example:
        >>> import torch
        >>> chunk_slices(nn.Linear(2, 2).eval(), torch.zeros(40, 2), chunk=16)
        [slice(0, 16, None), slice(16, 32, None), slice(32, 40, None)]
    """
    size, batch = inference_chunk(model, x, chunk), int(x.shape[0])
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)] or [slice(0, 0)]


def logits_no_grad(model: nn.Module, x: torch.Tensor, chunk: int | str | None = "auto",
                   aux: torch.Tensor | None = None) -> torch.Tensor:
    """``model(x)`` (``model(x, aux)`` when ``aux`` is given) without autograd, in micro-batches of
    :func:`inference_chunk` samples.

    Example:
        >>> import torch
        >>> m = nn.Sequential(nn.Flatten(), nn.Linear(8, 3)).eval()
        >>> logits_no_grad(m, torch.randn(50, 2, 4)).shape
        torch.Size([50, 3])
    """
    with torch.no_grad():
        parts = chunk_slices(model, x, chunk)
        if aux is None:
            return model(x) if len(parts) == 1 else torch.cat([model(x[s]) for s in parts])
        return model(x, aux) if len(parts) == 1 else torch.cat([model(x[s], aux[s]) for s in parts])
