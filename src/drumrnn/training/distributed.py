"""Training beyond one process: PyTorch DDP ranks launched by torchrun, and the device.

``torchrun --nproc-per-node N -m drumrnn train ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` set; :func:`world_from_env` reads them and
:func:`start` joins the process group (gloo on CPU, NCCL on CUDA). The trainer builds one
epoch plan for the whole batch, as one process would, and each rank takes its own rows of
every batch (:func:`rank_rows`): the ranks together read exactly the windows one process
reads, all take the same number of steps, and DDP's gradient average (with the loss scaled
by :func:`loss_scale`) equals one process's gradient of the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.tracks import TrackArrays
from drumrnn.training.train_config import DEVICES, PRECISIONS

#: Which dimension of each carried-state tensor runs over the batch.
STATE_BATCH_DIM = {"h": 1, "c": 1, "memory": 0, "valid": 0}


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints, metrics and the model file."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env(env=None) -> World:
    """The world torchrun describes in the environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``); one process when they are absent."""
    env = os.environ if env is None else env
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DrumrnnError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    if size < 1 or not 0 <= rank < size:
        raise DrumrnnError(f"rank {rank} is not in a world of {size} processes")
    return World(rank, size, local)


def select_device(requested: str, world: World = World()) -> torch.device:
    """``cpu``; ``cuda`` (this rank's GPU: local rank modulo the visible GPUs; an error when
    none is visible); or ``auto``: cuda when a GPU is visible, else cpu."""
    if requested not in DEVICES:
        raise DrumrnnError(f"unknown device {requested!r}; choose {', '.join(DEVICES)}")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DrumrnnError("--device cuda: no CUDA GPU is visible to PyTorch (is the CUDA "
                           "build of torch installed? torch==2.13.0 from PyPI's CPU index is not)")
    return torch.device("cuda", world.local_rank % torch.cuda.device_count())


def select_precision(requested: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the forward pass, or None for plain float32.

    ``auto``: bfloat16 on a GPU that has it, else float16 on a GPU (with a gradient scaler),
    float32 on CPU (bfloat16 recurrences are slower than float32 on CPUs).
    """
    if requested not in PRECISIONS:
        raise DrumrnnError(f"unknown precision {requested!r}; choose {', '.join(PRECISIONS)}")
    if requested == "fp32" or (requested == "auto" and device.type != "cuda"):
        return None
    if requested == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if requested == "fp16" and device.type != "cuda":
        raise DrumrnnError("fp16 needs a GPU (--device cuda); on CPU use bf16 or fp32")
    return torch.bfloat16 if requested == "bf16" else torch.float16


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def start(world: World, device: torch.device) -> None:
    """Join the process group of a distributed run (a no-op for one process)."""
    if world.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend_for(device), rank=world.rank, world_size=world.size)


def finish(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def threads_per_rank(idle: int, world: World) -> int:
    """The idle cores shared among the ranks of this machine (at least one thread each)."""
    per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", world.size))
    return max(1, idle // max(per_machine, 1))


def local_batch(batch: int, world: World) -> int:
    """Rows of each batch this rank trains on; ``batch`` is the whole batch of all ranks."""
    if batch % world.size:
        raise DrumrnnError(f"--batch {batch} does not split evenly over {world.size} "
                           "processes; the batch is the total of all processes")
    return batch // world.size


def rank_rows(rows: np.ndarray, world: World) -> np.ndarray:
    """This rank's rows of one batch's (track, offset, reset) rows."""
    size = len(rows) // world.size
    return rows[world.rank * size:(world.rank + 1) * size]


def batch_targets(tracks: TrackArrays, rows: np.ndarray, window: int) -> int:
    """Real targets of a batch's rows (as :func:`~drumrnn.training.batches.gather`'s mask
    counts them), without gathering the batch."""
    track, offset = rows[:, 0], rows[:, 1]
    real = track >= 0
    lengths = tracks.lengths[np.where(real, track, 0)]
    return int(np.where(real, np.clip(lengths - 1 - offset, 0, window), 0).sum())


def loss_scale(local_targets: float, global_targets: float, world: World) -> float:
    """Factor turning this rank's mean loss into its share of the whole batch's mean, so that
    DDP's average of the ranks' gradients is the whole batch's gradient."""
    return local_targets * world.size / max(global_targets, 1)


def drop_labels(arrays: dict, batch: int, dropout: float, rng: np.random.Generator,
                world: World) -> None:
    """Label dropout on this rank's rows, drawn for the whole ``batch`` of rows from ``rng``
    as :func:`~drumrnn.training.batches.gather` draws it for one process."""
    if dropout and "labels" in arrays:
        keep = rng.random((batch, 1, arrays["labels"].shape[-1])) >= dropout
        arrays["labels"] = arrays["labels"] * rank_rows(keep, world)


def all_sum(values: list[float], world: World) -> list[float]:
    """``values`` summed over the ranks (as they are for one process)."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def broadcast(value, world: World):
    """Rank 0's ``value`` on every rank."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_state(state: dict, world: World) -> dict:
    """The carried state of the whole batch, the ranks' rows joined in rank order."""
    if not world.distributed:
        return state
    out = {}
    for name, tensor in state.items():
        parts = [torch.empty_like(tensor) for _ in range(world.size)]
        dist.all_gather(parts, tensor.contiguous())
        out[name] = torch.cat(parts, dim=STATE_BATCH_DIM[name])
    return out


def slice_state(state: dict, world: World) -> dict:
    """This rank's rows of the whole batch's carried state."""
    if not world.distributed:
        return state
    return {name: tensor.chunk(world.size, dim=STATE_BATCH_DIM[name])[world.rank].contiguous()
            for name, tensor in state.items()}


def wrap(model: torch.nn.Module, world: World) -> torch.nn.Module:
    """``model`` wrapped for gradient averaging over the ranks (itself for one process)."""
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)
