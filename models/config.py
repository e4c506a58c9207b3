"""Model widths as one small dataclass, with the ``full`` (SPEC.md section 3) and ``tiny`` presets.

The three networks are built from the same modules; a preset only changes widths, so the tiny
preset has exactly the structure of the full one and is what CPU tests and the demo train.

    from models.config import get_config
    cfg = get_config("tiny")            # ModelConfig(frame_width=8, ...)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

PRESETS = ("full", "tiny")


@dataclass(frozen=True)
class ModelConfig:
    preset: str = "full"
    # Frame trunk: 0 means torchvision's ResNet-18 (widths 64..512, ImageNet-loadable); any other
    # value builds our ResNet-18-shaped 2-D trunk whose first stage has this many channels.
    frame_width: int = 0
    frame_dropout: float = 0.5
    roi_channels: tuple[int, ...] = (32, 64, 96, 128)
    audio_widths: tuple[int, ...] = (64, 128, 256, 512)
    gru_hidden: int = 1024
    gru_layers: int = 2
    gru_dropout: float = 0.3
    se_hidden: int = 1024            # SE bottleneck: FC C -> se_hidden -> C
    head_hidden: int = 64            # Linear S -> head_hidden -> 1
    backend_hidden: int = 1024       # normalised variant: Conv1d C -> backend_hidden -> 1
    yolt_grid: int = 20              # G cells of the YOLT fine head
    yolt_dropout: float = 0.3
    dense_channels: int = 64         # dense kind: width of its dilated temporal encoder
    dense_dropout: float = 0.1
    dense_segments: int = 5  # dense kind: classes of its per-second segment head (0: none)
    dense_members: int = 1  # dense kind: > 1 is an ensemble of that many (models.dense.DenseEnsemble)

    @property
    def frame_dim(self) -> int:
        return 512 if self.frame_width == 0 else 8 * self.frame_width

    @property
    def stream_dim(self) -> int:
        """Channels of one stream after its BiGRU (2 directions)."""
        return 2 * self.gru_hidden

    @property
    def fused_dim(self) -> int:
        return 2 * self.stream_dim

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        if "dense_channels" in d and "dense_segments" not in d:
            d["dense_segments"] = 0      # a dense checkpoint from before the segment head
        for k in ("roi_channels", "audio_widths"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


_PRESETS: dict[str, ModelConfig] = {
    "full": ModelConfig(),
    "tiny": ModelConfig(preset="tiny", frame_width=8, roi_channels=(8, 16, 16, 32),
                        audio_widths=(8, 16, 32, 64), gru_hidden=32, se_hidden=32,
                        head_hidden=16, backend_hidden=32, dense_channels=48),
}


def get_config(preset: str) -> ModelConfig:
    if preset not in _PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return _PRESETS[preset]
