"""Selection cost: per-batch policy overhead, and the scorer's passes against a training step.

Measures, side by side in one process:
1. ``policy.select`` overhead per batch with a stand-in scorer (pure selection logic, B = 32);
2. for a model, wall-clock per batch of the plain scoring forward, the shared Grad-CAM pass
   (``ModelBatchScorer`` with ``expect_focus``) and a training step (forward + backward + AdamW),
   expressed in the ledger's units (plain forward = 1) so they can be set against the counted
   ``train_units = 3`` and ``1 + gradcam_units = 3``.

Run: ``python benchmarks/bench_selection.py [--model small_cnn] [--reps 20] [--batch 32]``. Prints Markdown.
"""
from __future__ import annotations

import argparse
import time

import torch

from erts_kit.models import build_model
from erts_kit.selection import BatchInfo, ModelBatchScorer, list_policies, make_policy


class _StandIn:
    def __init__(self, p: torch.Tensor, f: torch.Tensor) -> None:
        self._p, self._f = p, f

    def p_true(self) -> torch.Tensor:
        return self._p

    def focus(self, candidates: torch.Tensor) -> torch.Tensor:
        return self._f[candidates]


def _median_time(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="small_cnn")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--leads", type=int, default=12)
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    b = args.batch

    print(f"## Policy overhead per batch (B = {b}, stand-in scorer, epoch 10, median of 200)\n")
    print("| policy | µs / batch |\n|---|---|")
    g = torch.Generator().manual_seed(args.seed)
    p, f = torch.rand(b, generator=g), torch.rand(b, generator=g)
    batch = BatchInfo(x=torch.zeros(b, 1, 8), y=torch.randint(0, 5, (b,), generator=g), indices=torch.arange(b), step=3)
    for name in list_policies():
        pol = make_policy(name)
        t = _median_time(lambda pol=pol: pol.select(10, batch, _StandIn(p, f)), 200)
        print(f"| {name} | {t * 1e6:.0f} |")

    print(f"\n## Scorer passes vs a training step ({args.model}, B = {b}, {args.leads} x {args.T}, "
          f"median of {args.reps}, CPU threads {torch.get_num_threads()})\n")
    model = build_model(args.model, n_leads=args.leads, n_classes=5)
    x = torch.randn(b, args.leads, args.T)
    y = torch.randint(0, 5, (b,))
    bi = BatchInfo(x=x, y=y, indices=torch.arange(b), step=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def plain() -> None:
        ModelBatchScorer(model, bi).p_true()

    def shared() -> None:
        s = ModelBatchScorer(model, bi)
        s.expect_focus()
        s.p_true()
        s.focus(torch.arange(b))

    def train_step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    t_plain = _median_time(plain, args.reps)
    t_shared = _median_time(shared, args.reps)
    t_train = _median_time(train_step, args.reps)
    print("| pass | ms / batch | units (plain forward = 1) | ledger count |\n|---|---|---|---|")
    print(f"| plain scoring forward (no grad, eval) | {t_plain * 1e3:.1f} | 1.00 | 1 |")
    print(f"| shared pass: p_true + Grad-CAM + focus | {t_shared * 1e3:.1f} | {t_shared / t_plain:.2f} | "
          f"1 + gradcam_units = 3 |")
    print(f"| training step (fwd + bwd + AdamW) | {t_train * 1e3:.1f} | {t_train / t_plain:.2f} | 3 |")
    print(f"\nmeasured gradcam_units (shared - plain) / plain = {(t_shared - t_plain) / t_plain:.2f}")


if __name__ == "__main__":
    main()
