"""``small_cnn``: the teaching default, a four-block 1-D CNN that trains in seconds on a laptop CPU.

Three conv-BN-ReLU-maxpool blocks then one conv-BN-ReLU block (no pool), so the Grad-CAM layer
(``features.3``, the last conv block) keeps a time resolution of W = T // 8 (125 steps for a
10 s PTB-XL record at 100 Hz). Global concat pooling (max + mean) and one linear layer give logits.
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit.models._layers import ConcatPool1d, check_length, init_conv_bn
from erts_kit.models.base import ECGModel


def _block(c_in: int, c_out: int, kernel: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                               nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool1d(2))
    return nn.Sequential(*layers)


class SmallCNN1d(ECGModel):
    """A small 1-D CNN over (B, leads, T): 4 conv blocks, concat pooling, dropout, linear head.

    Args:
        n_leads: number of input leads (channels).
        n_classes: number of output logits.
        width: channels of the first block; later blocks use 2x, 4x, 4x (default 32 -> 32/64/128/128).
        dropout: dropout before the linear layer.

    Grad-CAM layer: ``features.3`` (last conv block), output (B, 4 * width, T // 8).

    Example:
        >>> m = SmallCNN1d(n_leads=12, n_classes=5)
        >>> m(torch.zeros(2, 12, 1000)).shape
        torch.Size([2, 5])
        >>> m.forward_features(torch.zeros(2, 12, 1000)).shape
        torch.Size([2, 128, 125])
    """

    input_kind = "1d"
    cam_layer_name = "features.3"
    min_length = 8

    def __init__(self, n_leads: int, n_classes: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__(n_leads, n_classes)
        w = int(width)
        self.features = nn.Sequential(
            _block(self.n_leads, w, 7, pool=True),   # (B, w, T/2)
            _block(w, 2 * w, 5, pool=True),          # (B, 2w, T/4)
            _block(2 * w, 4 * w, 5, pool=True),      # (B, 4w, T/8)
            _block(4 * w, 4 * w, 3, pool=False),     # (B, 4w, T/8)  <- Grad-CAM layer
        )
        self.head = nn.Sequential(ConcatPool1d(), nn.Dropout(dropout), nn.Linear(8 * w, self.n_classes))
        init_conv_bn(self.features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, T) -> activations of ``features.3``, (B, 4 * width, T // 8)."""
        self.check_input(x)
        check_length(self, x, self.min_length)
        return self.features(x)

    def forward_head(self, a: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, W) -> logits (B, n_classes); ``aux`` (B, n_aux) fused before the last linear layer."""
        return self.apply_head(a, aux)
