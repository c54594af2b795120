"""The unseen adversary: a torchvision ResNet-18 attribute classifier (SPEC §4).

Trained independently of the generator (mixup, all 40 attributes by default); it judges
every evaluation and the privacy report, and never takes part in generator training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AdversaryConfig:
    arch: str = "resnet18"
    width: int = 64  # ResNet base width (64 = torchvision's ResNet-18)
    # 3: RGB faces. 4: faces with one more plane (the adaptive attacker given each face's
    # edit strength, infoscrub.evaluation.adaptive)
    in_channels: int = 3


def build_adversary(num_attributes: int, cfg: AdversaryConfig = AdversaryConfig()) -> nn.Module:
    from torchvision.models.resnet import BasicBlock, ResNet

    if cfg.arch != "resnet18":
        raise ValueError(f"unknown adversary architecture {cfg.arch!r}")
    if cfg.in_channels < 1:
        raise ValueError(f"an adversary needs at least one input channel, not {cfg.in_channels}")
    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_attributes, width_per_group=64)
    if cfg.width != 64:  # narrower variant for tests and CPU runs: rebuild with scaled widths
        model = _narrow_resnet18(num_attributes, cfg.width)
    if cfg.in_channels != 3:
        model.conv1 = nn.Conv2d(cfg.in_channels, model.conv1.out_channels, 7, 2, 3, bias=False)
    return model


def _narrow_resnet18(num_attributes: int, width: int) -> nn.Module:
    from torchvision.models.resnet import BasicBlock, ResNet

    class NarrowResNet(ResNet):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(BasicBlock, width, 2)
            self.layer2 = self._make_layer(BasicBlock, width * 2, 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, width * 4, 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, width * 8, 2, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(width * 8, num_attributes)

    return NarrowResNet()


def adversary_probabilities(model: nn.Module, faces: torch.Tensor) -> torch.Tensor:
    """p(attribute present) for faces in [-1, 1]."""
    return torch.sigmoid(model(faces).float())
