"""CPU max-pool of ResNet-18's stem activation: PyTorch's plain kernel vs the same pool through channels-last.

Run: ``python benchmarks/bench_maxpool.py [--repeats 30] [--threads 2]``

Times ``nn.MaxPool2d(3, 2, 1)`` on a ReLU'd (16, 64, 6, 500) tensor (the stem activation of ``resnet18_2d`` for a
16-sample slice of 12 x 1000 ECGs) against :class:`erts_kit.models._layers.NoGradFastMaxPool2d`, with and without
autograd, and checks that values and gradients are identical. Prints a Markdown table (median ms per call).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from erts_kit.models._layers import NoGradFastMaxPool2d


def _median_ms(fn, repeats: int) -> float:
    fn()
    laps = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        laps.append(time.perf_counter() - t0)
    return 1000 * statistics.median(laps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x = torch.randn(16, 64, 6, 500).relu()
    pools = {"nn.MaxPool2d": nn.MaxPool2d(3, 2, 1), "NoGradFastMaxPool2d": NoGradFastMaxPool2d(3, 2, 1)}
    g = torch.randn(16, 64, 3, 250)

    def backward(pool: nn.Module) -> torch.Tensor:
        xg = x.clone().requires_grad_()
        pool(xg).backward(g)
        return xg.grad

    with torch.no_grad():
        same_values = torch.equal(*(pool(x) for pool in pools.values()))
    same_grads = torch.equal(*(backward(pool) for pool in pools.values()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input {tuple(x.shape)}, seed {a.seed}, "
          f"median of {a.repeats}; identical values: {same_values}, identical gradients: {same_grads}\n")
    print("| pool | no grad (ms) | forward + backward (ms) |\n|---|---|---|")
    for name, pool in pools.items():
        with torch.no_grad():
            plain = _median_ms(lambda pool=pool: pool(x), a.repeats)
        grad = _median_ms(lambda pool=pool: backward(pool), a.repeats)
        print(f"| {name} | {plain:.2f} | {grad:.2f} |")


if __name__ == "__main__":
    main()
