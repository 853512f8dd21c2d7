"""Data-parallel training with torch.distributed, in processes torchrun starts.

This one file is the data-parallel code of Network Designer: its trainer
imports it, and every PyTorch export carries a byte-identical copy beside its
train.py. So it imports nothing but the standard library, numpy and torch,
and keeps to 79-character lines.

``python -m torch.distributed.run --nproc_per_node N train.py ...`` (torchrun)
starts N copies of a script and tells each, through its environment, its
RANK, LOCAL_RANK, WORLD_SIZE and where to meet (MASTER_ADDR, MASTER_PORT).
``start()`` reads that: with WORLD_SIZE > 1 it joins the process group (gloo
on the CPU, nccl on CUDA with one GPU per process); without torchrun it is one
plain process and every method does the single-process thing, so a script
written against it runs either way unchanged::

    with distributed.start("auto") as processes:
        network = processes.wrap(model)    # DistributedDataParallel if N > 1
        for epoch in range(1, epochs + 1):
            order = processes.shard(count, epoch, seed)  # this process's share
            ...
            loss_sum, seen = processes.sum(loss_sum, seen)  # over all of them
        if processes.is_main:
            save(model)                    # only rank 0 writes
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

DEVICES = ("auto", "cpu", "cuda", "mps")


class DistributedError(RuntimeError):
    """The processes cannot be set up as asked (a missing device, a broken
    launch); the message says what to change."""


def _environment_int(name: str, default: int | None = None) -> int:
    text = os.environ.get(name)
    if text is None:
        if default is None:
            raise DistributedError(
                f"{name} is not set: start several processes with torchrun "
                f"(python -m torch.distributed.run)")
        return default
    try:
        return int(text)
    except ValueError:
        raise DistributedError(
            f"{name} must be a whole number, not {text!r}") from None


def choose_device(name: str, world_size: int = 1,
                  local_rank: int = 0) -> torch.device:
    """The device of this process.

    ``auto`` takes CUDA, then (for one process) Apple MPS, then the CPU. With
    several processes on CUDA each takes the GPU of its LOCAL_RANK.
    """
    if name not in DEVICES:
        raise DistributedError(
            f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif world_size == 1 and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DistributedError(
                "CUDA was asked for but PyTorch sees no CUDA GPU here; "
                "use the device 'auto' or 'cpu'")
        if world_size == 1:
            return torch.device("cuda")
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"process {local_rank} on this node needs GPU {local_rank} "
                f"but there are {torch.cuda.device_count()}; start at most "
                f"that many processes per node")
        return torch.device("cuda", local_rank)
    if name == "mps":
        if world_size > 1:
            raise DistributedError(
                "Apple MPS cannot be shared by several processes; "
                "use the device 'cpu'")
        if not torch.backends.mps.is_available():
            raise DistributedError(
                "Apple MPS was asked for but is not available here; "
                "use the device 'auto' or 'cpu'")
    return torch.device(name)


@dataclass(frozen=True)
class Processes:
    """The processes of one data-parallel run, seen from one of them."""

    rank: int  # 0 .. world_size - 1; rank 0 is the one that writes
    local_rank: int  # rank among the processes of this node (picks the GPU)
    world_size: int
    device: torch.device
    backend: str | None  # "gloo" or "nccl"; None for a single process

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ------------------------------------------------------------ the model

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model on this process's device; in DistributedDataParallel
        when there are several processes.

        DistributedDataParallel copies rank 0's weights to every process here
        and averages the gradients in every backward pass, so all processes
        keep identical weights. Keep the unwrapped model for evaluating and
        saving: its state_dict has the plain key names.
        """
        model = model.to(self.device)
        if not self.distributed:
            return model
        # A convolution over one input channel gets gradients whose stride on
        # that size-1 axis differs from the bucket's; the values are the same,
        # and the warning in every backward pass would only alarm.
        warnings.filterwarnings(
            "ignore", message="Grad strides do not match bucket view strides")
        device_ids = None
        if self.device.type == "cuda":
            device_ids = [self.device.index]
        return DistributedDataParallel(model, device_ids=device_ids)

    # ------------------------------------------------------------- the data

    def shard(self, count: int, epoch: int, seed: int,
              shuffle: bool = True) -> torch.Tensor:
        """This process's share of ``range(count)`` for one epoch, dealt by a
        DistributedSampler.

        The order is a permutation seeded with ``seed + epoch``, the same for
        one process or many; process r takes every N-th index from position r
        (the list is padded by repeating its start, so all get as many). So
        batch i of N processes with batch size b holds exactly the samples of
        batch i of one process with batch size N * b.
        """
        sampler = DistributedSampler(
            range(count), num_replicas=self.world_size, rank=self.rank,
            shuffle=shuffle, seed=seed)
        sampler.set_epoch(epoch)
        return torch.tensor(list(sampler), dtype=torch.int64)

    def deal(self, order: torch.Tensor) -> torch.Tensor:
        """This process's share of ``order``, one epoch's order of the samples
        (the same tensor in every process), dealt by a DistributedSampler
        that keeps the order as it is.

        For a trainer that draws its own order (Network Designer's draws it
        as a single run does, so that N processes of batch b take the steps
        of one process of batch N * b in the same order); ``shard`` draws it
        from a seed. One process gets the whole order back.
        """
        if not self.distributed:
            return order
        sampler = DistributedSampler(
            range(len(order)), num_replicas=self.world_size, rank=self.rank,
            shuffle=False)
        positions = torch.tensor(list(sampler), dtype=torch.int64)
        return order[positions.to(order.device)]

    def part(self, count: int) -> np.ndarray:
        """The indices of ``range(count)`` this process evaluates; over all
        processes every sample exactly once (no padding)."""
        return np.arange(self.rank, count, self.world_size)

    # ------------------------------------------------------------- agreeing

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over all processes (in float64: counts stay
        exact)."""
        if not self.distributed:
            return tuple(float(value) for value in values)
        totals = torch.tensor(values, dtype=torch.float64,
                              device=self.device)
        dist.all_reduce(totals, op=dist.ReduceOp.SUM)
        return tuple(totals.tolist())

    def any(self, flag: bool) -> bool:
        """True on every process when it is True on one (say, one process was
        asked to stop)."""
        if not self.distributed:
            return bool(flag)
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def print(self, *values, **options) -> None:
        """``print`` on rank 0 only, flushed: N processes would repeat every
        line."""
        if self.is_main:
            print(*values, **options, flush=True)

    # --------------------------------------------------------------- ending

    def close(self) -> None:
        """Leave the process group (every process must, also after an
        error)."""
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exception) -> None:
        self.close()


def start(device: str = "auto") -> Processes:
    """Join the run torchrun started (WORLD_SIZE > 1), or be the only
    process."""
    world_size = _environment_int("WORLD_SIZE", 1)
    if world_size < 1:
        raise DistributedError(
            f"WORLD_SIZE must be at least 1, not {world_size}")
    if world_size == 1:
        return Processes(0, 0, 1, choose_device(device), None)
    rank = _environment_int("RANK")
    local_rank = _environment_int("LOCAL_RANK", rank)
    chosen = choose_device(device, world_size, local_rank)
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        # env:// reads MASTER_ADDR and MASTER_PORT, which torchrun sets.
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return Processes(rank, local_rank, world_size, chosen, backend)


__all__ = ["DEVICES", "DistributedError", "Processes", "choose_device",
           "start"]
