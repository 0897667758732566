"""MobileNetV2 (Sandler et al. 2018) over the (1, leads, T) ECG image, as in the ERTS paper.

Same layout as torchvision's ``mobilenet_v2`` (width multiplier 1): ``features[0]`` a 3x3/2 stem
conv (1 -> 32), ``features[1..17]`` the 17 inverted-residual blocks of the (t, c, n, s) table
below, ``features[18]`` the 1x1 conv to 1280 channels; then global average pooling and the paper head.
Grad-CAM layer: ``features[-2]`` = ``features.17`` (the last inverted residual, 320 channels).
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit.models._layers import init_conv_bn, paper_head
from erts_kit.models.backbones2d import FeaturesBackbone2d

# expansion t, output channels c, repeats n, stride of the first repeat s
INVERTED_RESIDUAL_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def conv_bn_act(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                act: type[nn.Module] | None = nn.ReLU6, eps: float = 1e-5) -> nn.Sequential:
    """Conv2d (no bias, 'same' padding) - BatchNorm2d - optional activation.

    Example:
        >>> conv_bn_act(1, 4, stride=2)(torch.zeros(1, 1, 12, 100)).shape
        torch.Size([1, 4, 6, 50])
    """
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(c_out, eps=eps)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion (skipped when t = 1) - 3x3 depthwise(stride) - linear 1x1 projection; residual when shapes match.

    Example:
        >>> InvertedResidual(16, 16, stride=1, expand_ratio=6)(torch.zeros(1, 16, 3, 20)).shape
        torch.Size([1, 16, 3, 20])
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = c_in * expand_ratio
        self.use_residual = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(c_in, hidden, kernel=1))
        layers += [conv_bn_act(hidden, hidden, stride=stride, groups=hidden),
                   conv_bn_act(hidden, c_out, kernel=1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2_2d(FeaturesBackbone2d):
    """MobileNetV2 on (B, leads, T) inputs viewed as one-channel images; paper head on 1280 pooled features.

    Args:
        n_leads: input leads (image height).
        n_classes: output logits.
        dropout: dropout of the paper head (0.3).
        lead_padding: zero rows above and below the leads before the stem (reference code: 10).
        head_input_dropout: dropout on the pooled features before the paper head. The reference code's
            MobileNetV2 head starts with an extra Dropout(0.3) (its other two backbones have none);
            the kit's default 0.0 gives all three the same head. ``fidelity="reference"`` sets 0.3.

    Grad-CAM layer: ``features.17`` (= ``features[-2]``); for 12 x 1000 input its output is (B, 320, 1, 32)
    (with ``lead_padding=10`` too: stride 32 takes 32 rows to one).

    Example:
        >>> m = MobileNetV2_2d(n_leads=12, n_classes=5).eval()
        >>> m.forward_features(torch.zeros(1, 12, 1000)).shape
        torch.Size([1, 320, 1, 32])
    """

    cam_layer_name = "features.17"

    def __init__(self, n_leads: int, n_classes: int, dropout: float = 0.3, lead_padding: int = 0,
                 head_input_dropout: float = 0.0) -> None:
        super().__init__(n_leads, n_classes)
        self._set_lead_padding(lead_padding)
        if not 0.0 <= float(head_input_dropout) < 1.0:
            raise ValueError(f"Expected head_input_dropout in [0, 1) (reference: 0.3), got {head_input_dropout!r}.")
        layers: list[nn.Module] = [conv_bn_act(1, 32, stride=2)]
        c_in = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(conv_bn_act(c_in, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.head = paper_head(1280, self.n_classes, p=dropout)
        # a separate module (not head[0]) so the head's state-dict keys are the same with or without it
        self.head_input_dropout = nn.Dropout(float(head_input_dropout)) if head_input_dropout else None
        init_conv_bn(self.features)  # torchvision's init for the trunk
