"""Multi-process training with PyTorch's own DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc_per_node N ...`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and the rendezvous
address) in each process's environment; :func:`init_distributed` reads them and joins the process group:
``nccl`` when the model runs on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), ``gloo`` on the CPU.
Without those variables (or with ``WORLD_SIZE=1``) training runs in one process and no group is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from damer_core.errors import DeviceError
from damer_core.model.device import resolve_device


@dataclass(frozen=True)
class Processes:
    """Where this process stands.

    Attributes:
        rank: index of this process, 0..world-1 (rank 0 writes every file).
        world: number of processes.
        device: the device this process trains on.
        owns_group: whether :func:`init_distributed` created the process group (and so closes it).
    """

    rank: int
    world: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group is in use."""
        return self.world > 1


def init_distributed(device_name: str) -> Processes:
    """Join the ``torchrun`` process group if there is one and pick this process's device.

    Args:
        device_name: the model config's device (``auto``, ``cpu``, ``cuda``).

    Raises:
        DeviceError: the device is not available, or more processes than GPUs on CUDA.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_name)
    if world <= 1:
        return Processes(0, 1, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(f"process {local_rank} has no GPU: only {torch.cuda.device_count()} CUDA device(s)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), device, owns_group)


def close_distributed(processes: Processes) -> None:
    """Leave the process group if :func:`init_distributed` made it."""
    if processes.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(processes: Processes) -> None:
    """Wait for every process (no-op in one process)."""
    if processes.distributed:
        dist.barrier()


def gather_rows(processes: Processes, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Concatenate each tensor's rows over all processes, in rank order (equal shapes in every process)."""
    if not processes.distributed:
        return tensors
    out = []
    for tensor in tensors:
        parts = [torch.empty_like(tensor) for _ in range(processes.world)]
        dist.all_gather(parts, tensor.contiguous())
        out.append(torch.cat(parts))
    return tuple(out)


def share(processes: Processes, value: Any) -> Any:
    """``value`` as given by rank 0, in every process (any picklable object)."""
    if not processes.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
