"""``resnet1d_wang``: the 1-D ResNet of the PTB-XL benchmark (Strodthoff et al., IEEE JBHI 2021).

That benchmark's ``resnet1d_wang`` adapts Wang et al.'s time-series ResNet (2017): a stem
conv(k=7)-BN-ReLU without pooling, three basic residual blocks of 128 filters with kernel sizes
5 and 3 (the 2nd and 3rd stride 2), and the fastai concat-pool head
(BN-Dropout(0.25)-Linear(256,128)-ReLU-BN-Dropout(0.5)-Linear(128,n_classes)).
Written here from the description; the Grad-CAM layer is the last residual block (``blocks.2``),
output (B, 128, ceil(T / 4)).
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit.models._layers import fastai_head1d, init_conv_bn
from erts_kit.models.base import ECGModel


class BasicBlock1d(nn.Module):
    """conv(k1, stride)-BN-ReLU-conv(k2)-BN plus a (1x1 conv-BN when the shape changes) shortcut, then ReLU.

    Example:
        >>> BasicBlock1d(4, 8, stride=2)(torch.zeros(1, 4, 10)).shape
        torch.Size([1, 8, 5])
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernels: tuple[int, int] = (5, 3)) -> None:
        super().__init__()
        k1, k2 = kernels
        self.conv1 = nn.Conv1d(c_in, c_out, k1, stride=stride, padding=(k1 - 1) // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, k2, padding=(k2 - 1) // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False),
                                            nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet1dWang(ECGModel):
    """PTB-XL benchmark ``resnet1d_wang`` over (B, leads, T).

    Args:
        n_leads: input leads.
        n_classes: output logits.
        width: filters of every block (128 in the benchmark).
        kernels: kernel sizes of the two convs of a block ((5, 3) in the benchmark).
        stem_kernel: kernel of the stem conv (7).
        dropout: head dropout p (the first head dropout uses p / 2), 0.5 in the benchmark.

    Grad-CAM layer: ``blocks.2`` (last residual block), output (B, width, ceil(T / 4)).

    Example:
        >>> m = ResNet1dWang(n_leads=12, n_classes=5).eval()
        >>> m.forward_features(torch.zeros(2, 12, 1000)).shape
        torch.Size([2, 128, 250])
    """

    input_kind = "1d"
    cam_layer_name = "blocks.2"

    def __init__(self, n_leads: int, n_classes: int, width: int = 128, kernels: tuple[int, int] = (5, 3),
                 stem_kernel: int = 7, dropout: float = 0.5) -> None:
        super().__init__(n_leads, n_classes)
        self.stem = nn.Sequential(
            nn.Conv1d(self.n_leads, width, stem_kernel, padding=(stem_kernel - 1) // 2, bias=False),
            nn.BatchNorm1d(width), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(
            BasicBlock1d(width, width, 1, kernels),  # (B, width, T)
            BasicBlock1d(width, width, 2, kernels),  # (B, width, T/2)
            BasicBlock1d(width, width, 2, kernels),  # (B, width, T/4)  <- Grad-CAM layer
        )
        self.head = fastai_head1d(width, self.n_classes, hidden=128, p=dropout)
        init_conv_bn(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, T) -> activations of ``blocks.2``, (B, width, ceil(T / 4))."""
        self.check_input(x)
        return self.blocks(self.stem(x))

    def forward_head(self, a: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """(B, width, W) -> logits (B, n_classes); ``aux`` (B, n_aux) fused before the last linear layer."""
        return self.apply_head(a, aux)
