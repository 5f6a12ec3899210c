"""Data-parallel training across processes (``torchrun``), or none at all.

Training runs as one process, or as N copies started by ``torchrun`` (one per GPU, or N CPU
processes with the gloo backend, which is how the tests exercise it). Each copy learns its
place from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK); rank 0 alone
writes checkpoints, metrics and logs. Gradients are averaged by DistributedDataParallel.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..model.device import pick_device


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: its rank, how many there are, and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0





def start(device_name: str) -> Ranks:
    """Join the process group when started by torchrun; otherwise a world of one.

    Under torchrun on CUDA each rank takes the GPU of its LOCAL_RANK (NCCL); on the CPU the
    ranks talk over gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if world == 1:
        return Ranks(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    # Rank 0 evaluates while the others wait in the next all-reduce: allow it time.
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=1))
    return Ranks(dist.get_rank(), dist.get_world_size(), device)


def stop(ranks: Ranks, clean: bool = True) -> None:
    """Leave the process group; after a failure, without waiting for the others."""
    if ranks.world > 1 and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def sum_across(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum of ``value`` over all ranks (itself in a world of one)."""
    if ranks.world > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of the model's weights, to check that every replica holds the same model."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        # Flat first: a 0-d tensor (a batch norm's step count) has no bytes view; the bytes are the same.
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def gather_digests(model: torch.nn.Module, ranks: Ranks) -> list[str]:
    """Every rank's :func:`weights_digest`, in rank order."""
    mine = weights_digest(model)
    if ranks.world == 1:
        return [mine]
    everyone: list[str | None] = [None] * ranks.world
    dist.all_gather_object(everyone, mine)
    return [str(d) for d in everyone]
