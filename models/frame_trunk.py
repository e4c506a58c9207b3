"""Per-frame image trunk of VideoNet: ResNet-18 applied to every 1-fps frame, giving one vector
per second.

``full`` preset: torchvision's ResNet-18 built with ``weights=None`` (nothing downloads); an
ImageNet state dict from a local file can be loaded with :func:`load_imagenet_weights`.  ``tiny``
preset: our narrow ResNet-18-shaped trunk (models/resnet.py) because torchvision's widths are fixed.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from models.resnet import ResNetTrunk, like_weight_layout


class FrameTrunk(nn.Module):
    def __init__(self, width: int = 0):
        super().__init__()
        if width == 0:
            import torchvision

            net = torchvision.models.resnet18(weights=None)
            net.fc = nn.Identity()
            self.net = net
            self.out_dim = 512
        else:
            trunk = ResNetTrunk(dims=2, in_ch=3, widths=(width, 2 * width, 4 * width, 8 * width),
                                se=False, act="relu", stem_kernel=7, pool_kernel=3)
            self.net = nn.Sequential(trunk, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
            self.out_dim = trunk.out_channels
        self.torchvision = width == 0
        self.first_conv = self.net.conv1 if width == 0 else trunk.stem[0]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, s = frames.shape[:2]
        x = like_weight_layout(frames.flatten(0, 1), self.first_conv.weight)
        y = self.net(x)                                   # (B*S, 3, H, W) -> (B*S, D)
        return y.view(b, s, -1)                           # (B, S, D)


def load_imagenet_weights(trunk: FrameTrunk, path: str | os.PathLike) -> None:
    """Load a local torchvision ResNet-18 ImageNet state dict (``fc.*`` ignored) into the trunk."""
    if not trunk.torchvision:
        raise ValueError(f"--pretrained {path}: ImageNet weights fit only the full preset's "
                         f"ResNet-18 frame trunk, not the tiny preset")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--pretrained {path}: file not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = trunk.net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"--pretrained {path}: not a ResNet-18 state dict "
                         f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
