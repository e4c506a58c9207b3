"""Process-group set-up and mixed precision in one place.

``init_distributed`` reads the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK) and falls back
to one process; it picks the device (CPU, one GPU, or the local GPU of a torchrun rank) and the
backend (NCCL on GPU, gloo on CPU).  ``autocast_context`` / ``make_scaler`` give fp16 autocast +
GradScaler on CUDA and bf16 autocast (no scaler) on CPU.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def parse_gpus(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(x) for x in str(text).split(",") if x.strip() != ""]
    except ValueError:
        raise ValueError(f"--gpus {text!r}: expected a comma-separated list of GPU ids, e.g. 0,1") from None


def init_distributed(device: str = "auto", gpus: str | None = None) -> DistInfo:
    """Join the torchrun process group if there is one; return rank, world size and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    want_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if want_cuda and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    ids = parse_gpus(gpus)
    if ids and not torch.cuda.is_available():
        raise ValueError(f"--gpus {gpus}: CUDA is not available on this machine")
    if world > 1:
        if want_cuda:
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if want_cuda else "gloo")
        return DistInfo(rank, world, local, dev)
    if ids:
        dev = torch.device("cuda", ids[0])
    elif want_cuda:
        dev = torch.device(device if device.startswith("cuda") else "cuda")
    else:
        dev = torch.device("cpu")
    return DistInfo(0, 1, 0, dev)


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def autocast_context(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", dtype=torch.bfloat16)


def make_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """Loss scaling is needed only for fp16 on CUDA; a disabled scaler is a no-op with a state dict."""
    return torch.amp.GradScaler("cuda", enabled=enabled and device.type == "cuda")
