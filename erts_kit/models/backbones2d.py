"""The ERTS paper's 2-D backbones over the ECG "image": shared base class and ResNet-18.

The paper (Dangeti et al. 2026) trains torchvision's ResNet-18, MobileNetV2 and EfficientNetV2-S
from scratch on the 12 x T signal viewed as a one-channel image, with the classifier replaced by
Linear(feat, 128)-ReLU-Dropout(0.3)-Linear(128, n_classes). torchvision cannot be installed next to
the torch this kit pins, so the three networks are written here by hand with the same block
structure, widths and initialisation (parameter counts match torchvision's once the stem takes one
channel and the classifier is swapped; see ``erts_kit.models``). MobileNetV2 and EfficientNetV2-S
live in :mod:`erts_kit.models.mobilenetv2_2d` and :mod:`erts_kit.models.efficientnetv2_2d`.

Input (B, leads, T) is viewed as (B, 1, leads, T); the Grad-CAM map has H along the leads and W
along time. Trunk = everything up to and including the Grad-CAM layer; head = the rest of the
network, global average pooling and the paper's MLP head.

``lead_padding`` (every 2-D backbone; default 0): zero rows added above *and* below the leads before
the stem, as the reference code does (10 rows: a 12-row image becomes 32 rows). Without it the
Grad-CAM layer of a 12-lead input has a single row (ResNet-18 ``layer3``: 1 x 63; MobileNetV2 and
EfficientNetV2-S ``features[-2]``: 1 x 32), so the paper's "mean over the lead axis" has nothing to
average. With 10 rows (32 in all) ResNet-18's ``layer3`` has two rows (2 x 63); MobileNetV2's and
EfficientNetV2-S's ``features[-2]`` (stride 32) still have one (1 x 32), but its values change, since
the zero rows enter every convolution. The kit's default keeps the unpadded image (no compute spent on
zero rows); ``fidelity="reference"`` (:mod:`erts_kit.training.fidelity`) turns it on.
"""
from __future__ import annotations

import torch
from torch import nn

from erts_kit.models._layers import NoGradFastMaxPool2d, init_conv_bn, paper_head
from erts_kit.models.base import ECGModel


class Backbone2d(ECGModel):
    """Base for the 2-D backbones: adds the image axis, pools globally, applies the paper head.

    Subclasses build ``self.head`` (via :func:`paper_head`) and implement ``_trunk`` (image ->
    Grad-CAM layer output) and ``_rest`` (Grad-CAM layer output -> last feature map).
    """

    input_kind = "2d"
    lead_padding: int = 0

    def _set_lead_padding(self, lead_padding: int) -> None:
        if isinstance(lead_padding, bool) or not isinstance(lead_padding, int) or lead_padding < 0:
            raise ValueError(f"Expected lead_padding as a whole number of zero rows >= 0 (reference: 10), "
                             f"got {lead_padding!r}.")
        self.lead_padding = lead_padding

    def _trunk(self, img: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rest(self, a: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, T) -> Grad-CAM layer activations (B, C, H, W), H along leads, W along time."""
        self.check_input(x)
        img = x.unsqueeze(1)  # (B, 1, leads, T)
        if self.lead_padding:
            img = nn.functional.pad(img, (0, 0, self.lead_padding, self.lead_padding))  # zero rows above and below
        return self._trunk(img)

    def forward_head(self, a: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, n_classes); ``aux`` (B, n_aux) fused before the last linear layer."""
        f = self._rest(a)
        f = torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1)  # (B, C_last)
        drop = getattr(self, "head_input_dropout", None)   # MobileNetV2's reference option (a submodule when set)
        if drop is not None:
            f = drop(f)
        return self.apply_head(f, aux)


class FeaturesBackbone2d(Backbone2d):
    """A 2-D backbone whose trunk is ``self.features`` (an ``nn.Sequential``), split before its last stage.

    The Grad-CAM layer is ``features[-2]`` (the paper's choice for MobileNetV2 and EfficientNetV2-S);
    ``features[-1]`` (the final 1x1 conv) runs in the head.
    """

    def _trunk(self, img: torch.Tensor) -> torch.Tensor:
        return self.features[:-1](img)   # up to and including features[-2]

    def _rest(self, a: torch.Tensor) -> torch.Tensor:
        return self.features[-1](a)


class BasicBlock2d(nn.Module):
    """ResNet basic block: 3x3 conv(stride)-BN-ReLU-3x3 conv-BN + shortcut (1x1 conv-BN if the shape changes), ReLU.

    Example:
        >>> BasicBlock2d(8, 16, stride=2)(torch.zeros(1, 8, 4, 10)).shape
        torch.Size([1, 16, 2, 5])
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18_2d(Backbone2d):
    """ResNet-18 (He et al. 2016) over the (1, leads, T) ECG image, as in the ERTS paper.

    Stem conv 7x7/2 (1 -> 64)-BN-ReLU-maxpool 3x3/2, four stages of two basic blocks
    (64, 128, 256, 512 channels; stages 2-4 stride 2), global average pooling, paper head.

    Args:
        n_leads: input leads (image height).
        n_classes: output logits.
        dropout: dropout of the paper head (0.3).
        lead_padding: zero rows above and below the leads before the stem (reference code: 10).

    Grad-CAM layer: ``layer3`` (the paper's choice); for a 12 x 1000 input its output is (B, 256, 1, 63),
    with ``lead_padding=10`` (B, 256, 2, 63).

    Example:
        >>> m = ResNet18_2d(n_leads=12, n_classes=5).eval()
        >>> m.forward_features(torch.zeros(1, 12, 1000)).shape
        torch.Size([1, 256, 1, 63])
        >>> ResNet18_2d(12, 5, lead_padding=10).eval().forward_features(torch.zeros(1, 12, 1000)).shape
        torch.Size([1, 256, 2, 63])
    """

    cam_layer_name = "layer3"

    def __init__(self, n_leads: int, n_classes: int, dropout: float = 0.3, lead_padding: int = 0) -> None:
        super().__init__(n_leads, n_classes)
        self._set_lead_padding(lead_padding)
        self.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = NoGradFastMaxPool2d(3, stride=2, padding=1)
        widths, c_in = (64, 128, 256, 512), 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            self.add_module(f"layer{i + 1}", nn.Sequential(BasicBlock2d(c_in, w, stride), BasicBlock2d(w, w)))
            c_in = w
        self.head = paper_head(512, self.n_classes, p=dropout)
        init_conv_bn(self)

    def _trunk(self, img: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(img))))  # (B, 64, rows/4, T/4)
        return self.layer3(self.layer2(self.layer1(x)))         # (B, 256, rows/16, T/16)

    def _rest(self, a: torch.Tensor) -> torch.Tensor:
        return self.layer4(a)                                   # (B, 512, rows/32, T/32)
