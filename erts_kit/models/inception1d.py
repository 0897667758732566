"""``inception1d``: InceptionTime (Fawaz et al. 2020) as used in the PTB-XL benchmark (Strodthoff et al. 2021).

Six Inception modules arranged as two residual *blocks* of three modules each (InceptionTime's
terminology): a module is a 1x1 bottleneck (32) feeding parallel convs with kernels 39, 19, 9
(32 filters each) plus a maxpool(3)-1x1 conv branch, concatenated (128 channels) then BN-ReLU;
a block adds a 1x1 conv-BN shortcut from its input and applies ReLU. No striding, so the
Grad-CAM layer, the last Inception block (``blocks.1``), keeps the full resolution: (B, 128, T).
Head: the PTB-XL benchmark's concat-pool head. Written here from the papers' description.
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit._validation import check_int
from erts_kit.models._layers import fastai_head1d, init_conv_bn
from erts_kit.models.base import ECGModel


def _conv(c_in: int, c_out: int, kernel: int) -> nn.Conv1d:
    return nn.Conv1d(c_in, c_out, kernel, padding=(kernel - 1) // 2, bias=False)


class InceptionModule1d(nn.Module):
    """Bottleneck + parallel convs of several kernel sizes + maxpool branch, concatenated, BN-ReLU.

    Example:
        >>> InceptionModule1d(12, n_filters=8, kernels=(9, 5), bottleneck=4)(torch.zeros(1, 12, 50)).shape
        torch.Size([1, 24, 50])
    """

    def __init__(self, c_in: int, n_filters: int = 32, kernels: tuple[int, ...] = (39, 19, 9),
                 bottleneck: int = 32) -> None:
        super().__init__()
        self.bottleneck = _conv(c_in, bottleneck, 1)
        self.convs = nn.ModuleList([_conv(bottleneck, n_filters, k) for k in kernels])
        self.pool_branch = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), _conv(c_in, n_filters, 1))
        self.bn_relu = nn.Sequential(nn.BatchNorm1d((len(kernels) + 1) * n_filters), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bottleneck(x)
        out = torch.cat([conv(b) for conv in self.convs] + [self.pool_branch(x)], dim=1)  # (B, C_out, T)
        return self.bn_relu(out)


class InceptionBlock1d(nn.Module):
    """Three Inception modules with a residual 1x1 conv-BN shortcut around them, then ReLU.

    Example:
        >>> InceptionBlock1d(12, n_filters=8, kernels=(9, 5), bottleneck=4)(torch.zeros(1, 12, 50)).shape
        torch.Size([1, 24, 50])
    """

    def __init__(self, c_in: int, n_filters: int = 32, kernels: tuple[int, ...] = (39, 19, 9),
                 bottleneck: int = 32, depth: int = 3) -> None:
        super().__init__()
        c_out = (len(kernels) + 1) * n_filters
        self.inception = nn.Sequential(*[InceptionModule1d(c_in if i == 0 else c_out, n_filters, kernels, bottleneck)
                                        for i in range(depth)])
        self.shortcut = nn.Sequential(_conv(c_in, c_out, 1), nn.BatchNorm1d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.inception(x) + self.shortcut(x))


class Inception1d(ECGModel):
    """InceptionTime-style 1-D network over (B, leads, T).

    Args:
        n_leads: input leads.
        n_classes: output logits.
        n_filters: filters per branch (32); a module outputs (len(kernels) + 1) * n_filters channels.
        kernel_size: largest kernel (40 in the benchmark -> kernels 39, 19, 9).
        bottleneck: bottleneck channels (32).
        n_blocks: residual blocks of three modules each (2 -> depth 6 as in the benchmark).
        dropout: head dropout p (0.5).

    Grad-CAM layer: ``blocks.{n_blocks - 1}`` (last Inception block), output (B, 4 * n_filters, T).

    Example:
        >>> m = Inception1d(n_leads=12, n_classes=5).eval()
        >>> m.forward_features(torch.zeros(1, 12, 100)).shape
        torch.Size([1, 128, 100])
    """

    input_kind = "1d"

    def __init__(self, n_leads: int, n_classes: int, n_filters: int = 32, kernel_size: int = 40,
                 bottleneck: int = 32, n_blocks: int = 2, dropout: float = 0.5) -> None:
        super().__init__(n_leads, n_classes)
        check_int("kernel_size", kernel_size, minimum=4)
        check_int("n_blocks", n_blocks, minimum=1)
        # kernel sizes ks, ks/2, ks/4 made odd so "same" padding is exact: 40 -> 39, 19, 9
        kernels = tuple(k - 1 if k % 2 == 0 else k for k in (kernel_size, kernel_size // 2, kernel_size // 4))
        c_out = (len(kernels) + 1) * n_filters
        c_ins = [self.n_leads] + [c_out] * (n_blocks - 1)
        self.blocks = nn.Sequential(*[InceptionBlock1d(c, n_filters, kernels, bottleneck) for c in c_ins])
        self.head = fastai_head1d(c_out, self.n_classes, hidden=128, p=dropout)
        self.cam_layer_name = f"blocks.{n_blocks - 1}"
        init_conv_bn(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, T) -> activations of the last Inception block, (B, 4 * n_filters, T)."""
        self.check_input(x)
        return self.blocks(x)

    def forward_head(self, a: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, T) -> logits (B, n_classes); ``aux`` (B, n_aux) fused before the last linear layer."""
        return self.apply_head(a, aux)
