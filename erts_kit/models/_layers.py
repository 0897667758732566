"""Small building blocks shared by the backbones: pooling heads, the paper's MLP head, input checks."""
from __future__ import annotations

import torch
from torch import nn


class ConcatPool1d(nn.Module):
    """Global max and average pooling over time, concatenated: (B, C, W) -> (B, 2C).

    Example:
        >>> ConcatPool1d()(torch.ones(2, 3, 5)).shape
        torch.Size([2, 6])
    """

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.cat([a.amax(dim=-1), a.mean(dim=-1)], dim=1)


class NoGradFastMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that pools in channels-last layout on a CPU when no gradient is needed: same values, faster.

    PyTorch's CPU max-pool over a plain (N, C, H, W) tensor is slow for ResNet-18's stem (16 x 64 x 6 x 500:
    15.8 ms, against 7.5 ms through channels-last and back, on the 2-core dev CPU; ``benchmarks/bench_maxpool.py``);
    the max is the same whichever layout. With autograd the plain kernel is as fast, so training forwards keep it.

    Example:
        >>> pool = NoGradFastMaxPool2d(3, stride=2, padding=1)
        >>> x = torch.randn(2, 4, 6, 50)
        >>> with torch.no_grad():
        ...     torch.equal(pool(x), nn.functional.max_pool2d(x, 3, 2, 1))
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        needs_grad = torch.is_grad_enabled() and x.requires_grad
        if x.device.type == "cpu" and x.dim() == 4 and not needs_grad and not self.return_indices:
            return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return super().forward(x)


def fastai_head1d(n_features: int, n_classes: int, hidden: int = 128, p: float = 0.5) -> nn.Sequential:
    """Head of the PTB-XL benchmark models (Strodthoff et al. 2021): concat-pool, then BN-Dropout-Linear twice.

    (B, C, W) -> concat pool (B, 2C) -> BN, Dropout(p/2), Linear(2C, hidden), ReLU -> BN, Dropout(p),
    Linear(hidden, n_classes).

    Example:
        >>> fastai_head1d(16, 3).eval()(torch.zeros(2, 16, 7)).shape
        torch.Size([2, 3])
    """
    return nn.Sequential(
        ConcatPool1d(),
        nn.BatchNorm1d(2 * n_features), nn.Dropout(p / 2), nn.Linear(2 * n_features, hidden), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(p), nn.Linear(hidden, n_classes),
    )


def paper_head(n_features: int, n_classes: int, hidden: int = 128, p: float = 0.3) -> nn.Sequential:
    """Head the ERTS paper put on its 2-D backbones: Linear(feat, 128)-ReLU-Dropout(0.3)-Linear(128, n_classes).

    Takes pooled features (B, n_features).

    Example:
        >>> paper_head(8, 5)(torch.zeros(2, 8)).shape
        torch.Size([2, 5])
    """
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(inplace=True), nn.Dropout(p),
                         nn.Linear(hidden, n_classes))


def check_length(model: nn.Module, x: torch.Tensor, min_length: int) -> None:
    """Raise a ValueError when the time axis of ``x`` (B, leads, T) is shorter than the model can take."""
    if x.shape[-1] < min_length:
        raise ValueError(f"Model {type(model).__name__} needs at least {min_length} time steps, got input "
                         f"{tuple(x.shape)}: use longer windows (or resample) before this model.")


def init_conv_bn(module: nn.Module) -> None:
    """torchvision-style init: Kaiming-normal (fan_out) convs, BN weight 1 / bias 0; Linear keeps torch's default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
