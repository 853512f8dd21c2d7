"""What to run and where: ``RunRequest`` and the launches.

A request is plain data (a design as the file format's dict, the settings, what to send
back), so it pickles into the training process and onto other machines. Where it runs is
its ``launch``: ``Local()`` — the training process on this computer (or K of them side by
side), or the calling thread; ``Processes(n)`` — one run data-parallel on N processes that
torchrun starts, on this computer or several; ``Ray()`` — each run a Ray task on a cluster.
A launch decides *where*, never *what*: the session it runs is the same. Each is a
``Launch`` subclass with its own ``run_all``; nothing that builds requests or reads
results changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from designer.core import Graph, to_document
from designer.training.records import TrainConfig


class Launch:
    """Where runs happen. ``run_all`` trains ``requests`` (all of this launch), reporting every
    event to ``emit``, honouring ``control`` (``RunControl``), and returns one ``RunResult``
    per request, in order. Every request ends with exactly one ``RunEnded`` event."""

    def run_all(self, requests: list["RunRequest"], emit, control) -> list:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Local(Launch):
    """This computer. ``own_process``: in the training process (``designer.training.service``,
    started once and kept); False: in the thread that calls ``run_all`` (the command line,
    and the window when no process can be started). ``torch_threads``: PyTorch's thread count
    for the run (None: ``session.default_torch_threads``)."""

    own_process: bool = True
    torch_threads: int | None = None
    #: training processes running runs side by side (a sweep's variants); each takes the next
    #: request when it is done. Only with ``own_process``.
    parallel: int = 1

    def run_all(self, requests, emit, control) -> list:
        from designer.training.run.local import run_locally

        return run_locally(requests, emit, control, own_process=self.own_process, torch_threads=self.torch_threads,
                           parallel=self.parallel)


@dataclass(frozen=True)
class Processes(Launch):
    """One run on ``n`` processes per computer, data-parallel (DistributedDataParallel), started
    by PyTorch's own launcher (``python -m torch.distributed.run``). Runs of a list go one after
    another. On several computers (``nnodes`` > 1) each starts the same run with its own
    ``node_rank`` (0 … nnodes − 1) and the same ``rdzv_endpoint`` (``host:port`` of node 0);
    node 0 holds process 0, which reports and sends back the trained network.
    ``torch_threads``: each process's PyTorch threads (None: the CPUs divided among them)."""

    n: int = 2
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    torch_threads: int | None = None

    def problems(self) -> list[str]:
        from designer.training.run.processes import launch_problems

        return launch_problems(self)

    def run_all(self, requests, emit, control) -> list:
        from designer.training.run.processes import run_on_processes

        return run_on_processes(self, requests, emit, control)


@dataclass(frozen=True)
class Ray(Launch):
    """Each run a Ray task: on the cluster at ``address`` (``ray start --head`` printed it), or,
    when None, on a Ray instance started on this computer for these runs (with ``local_cpus``
    CPUs, None: all) and shut down after. Each task asks for ``cpus_per_run`` CPUs and trains
    with as many PyTorch threads: the same count as a ``Local`` run's gives the same numbers."""

    address: str | None = None
    cpus_per_run: int = 1
    local_cpus: int | None = None

    def run_all(self, requests, emit, control) -> list:
        from designer.training.run.ray_tasks import run_on_ray

        return run_on_ray(self, requests, emit, control)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class RunRequest:
    design: dict  # the file format's document (designer.core.to_document)
    config: TrainConfig
    run_id: str = field(default_factory=new_run_id)
    label: str = ""  # for people: "FC head", "2×128 ReLU"
    keep_weights: bool = True  # send the trained weights back (a sweep needs only the figures)
    find_mistakes: bool = True  # the misclassified test images for the results view
    launch: Launch = field(default_factory=Local)

    @classmethod
    def of(cls, graph: Graph, config: TrainConfig, **options) -> "RunRequest":
        return cls(to_document(graph), config, **options)


__all__ = ["Launch", "Local", "Processes", "Ray", "RunRequest", "new_run_id"]
