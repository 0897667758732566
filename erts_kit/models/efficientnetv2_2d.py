"""EfficientNetV2-S (Tan & Le 2021) over the (1, leads, T) ECG image, as in the ERTS paper.

Same layout as torchvision's ``efficientnet_v2_s``: ``features[0]`` a 3x3/2 stem conv (1 -> 24),
``features[1..6]`` the six stages of :data:`EFFICIENTNET_V2_S_STAGES` (three Fused-MBConv stages,
three MBConv stages with squeeze-and-excitation), ``features[7]`` a 1x1 conv to 1280 channels;
BatchNorm eps 1e-3, SiLU, stochastic depth rising linearly to 0.2 over the blocks. Then global
average pooling and the paper head (which replaces torchvision's Dropout(0.2)-Linear classifier).
Grad-CAM layer: ``features[-2]`` = ``features.6`` (last MBConv stage, 256 channels), the paper's choice.
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit.models._layers import init_conv_bn, paper_head
from erts_kit.models.backbones2d import FeaturesBackbone2d
from erts_kit.models.mobilenetv2_2d import conv_bn_act

# (block, expand ratio, kernel, stride of the first block, in channels, out channels, blocks)
EFFICIENTNET_V2_S_STAGES = [
    ("fused", 1, 3, 1, 24, 24, 2),
    ("fused", 4, 3, 2, 24, 48, 4),
    ("fused", 4, 3, 2, 48, 64, 4),
    ("mb", 4, 3, 2, 64, 128, 6),
    ("mb", 6, 3, 1, 128, 160, 9),
    ("mb", 6, 3, 2, 160, 256, 15),
]
_BN_EPS = 1e-3


class StochasticDepth(nn.Module):
    """Drops the whole residual branch of a sample with probability ``p`` in training (scales survivors by 1/(1-p)).

    Example:
        >>> StochasticDepth(0.5).eval()(torch.ones(2, 3)).sum().item()
        6.0
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)  # one draw per sample
        return x * mask / keep


class SqueezeExcitation(nn.Module):
    """Channel gating: global average pool - 1x1 conv - SiLU - 1x1 conv - sigmoid, multiplied onto the input.

    Example:
        >>> SqueezeExcitation(8, 2)(torch.ones(1, 8, 2, 3)).shape
        torch.Size([1, 8, 2, 3])
    """

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.adaptive_avg_pool2d(x, 1)  # (B, C, 1, 1)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class FusedMBConv(nn.Module):
    """Fused-MBConv: kxk conv(stride) expanding to in*t channels - 1x1 projection (a single kxk conv when t = 1).

    Residual with stochastic depth when stride is 1 and channels match.

    Example:
        >>> FusedMBConv(8, 16, expand_ratio=4, kernel=3, stride=2)(torch.zeros(1, 8, 4, 10)).shape
        torch.Size([1, 16, 2, 5])
    """

    def __init__(self, c_in: int, c_out: int, expand_ratio: int, kernel: int, stride: int,
                 sd_prob: float = 0.0) -> None:
        super().__init__()
        self.use_residual = stride == 1 and c_in == c_out
        hidden = c_in * expand_ratio
        if hidden != c_in:
            self.block = nn.Sequential(conv_bn_act(c_in, hidden, kernel, stride, act=nn.SiLU, eps=_BN_EPS),
                                       conv_bn_act(hidden, c_out, 1, act=None, eps=_BN_EPS))
        else:
            self.block = nn.Sequential(conv_bn_act(c_in, c_out, kernel, stride, act=nn.SiLU, eps=_BN_EPS))
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_residual else out


class MBConv(nn.Module):
    """MBConv: 1x1 expansion - kxk depthwise(stride) - squeeze-excitation (in/4 channels) - 1x1 projection.

    Residual with stochastic depth when stride is 1 and channels match.

    Example:
        >>> MBConv(8, 8, expand_ratio=4, kernel=3, stride=1)(torch.zeros(1, 8, 4, 10)).shape
        torch.Size([1, 8, 4, 10])
    """

    def __init__(self, c_in: int, c_out: int, expand_ratio: int, kernel: int, stride: int,
                 sd_prob: float = 0.0) -> None:
        super().__init__()
        self.use_residual = stride == 1 and c_in == c_out
        hidden = c_in * expand_ratio
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(conv_bn_act(c_in, hidden, 1, act=nn.SiLU, eps=_BN_EPS))
        layers += [conv_bn_act(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU, eps=_BN_EPS),
                   SqueezeExcitation(hidden, max(1, c_in // 4)),
                   conv_bn_act(hidden, c_out, 1, act=None, eps=_BN_EPS)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_residual else out


class EfficientNetV2S_2d(FeaturesBackbone2d):
    """EfficientNetV2-S on (B, leads, T) inputs viewed as one-channel images; paper head on 1280 pooled features.

    Args:
        n_leads: input leads (image height).
        n_classes: output logits.
        dropout: dropout of the paper head (0.3).
        stochastic_depth: final stochastic-depth probability (torchvision's 0.2), linear in block index.
        lead_padding: zero rows above and below the leads before the stem (reference code: 10).

    Grad-CAM layer: ``features.6`` (= ``features[-2]``); for 12 x 1000 input its output is (B, 256, 1, 32).

    Example:
        >>> m = EfficientNetV2S_2d(n_leads=12, n_classes=5).eval()  # doctest: +SKIP
        >>> m.forward_features(torch.zeros(1, 12, 1000)).shape  # doctest: +SKIP
        torch.Size([1, 256, 1, 32])
    """

    cam_layer_name = "features.6"

    def __init__(self, n_leads: int, n_classes: int, dropout: float = 0.3, stochastic_depth: float = 0.2,
                 lead_padding: int = 0) -> None:
        super().__init__(n_leads, n_classes)
        self._set_lead_padding(lead_padding)
        layers: list[nn.Module] = [conv_bn_act(1, 24, 3, stride=2, act=nn.SiLU, eps=_BN_EPS)]
        total = sum(stage[-1] for stage in EFFICIENTNET_V2_S_STAGES)
        block_id = 0
        for kind, t, k, s, c_in, c_out, n in EFFICIENTNET_V2_S_STAGES:
            block_cls = FusedMBConv if kind == "fused" else MBConv
            stage: list[nn.Module] = []
            for i in range(n):
                sd = stochastic_depth * block_id / total
                stage.append(block_cls(c_in if i == 0 else c_out, c_out, t, k, s if i == 0 else 1, sd))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        layers.append(conv_bn_act(256, 1280, 1, act=nn.SiLU, eps=_BN_EPS))
        self.features = nn.Sequential(*layers)
        self.head = paper_head(1280, self.n_classes, p=dropout)
        init_conv_bn(self.features)  # torchvision's init for the trunk
