"""What to run and where: ``RunRequest`` and the launches.

A request is plain data (a design as the file format's dict, the settings, what to send
back), so it pickles into the training process and, later, onto other machines. Where it
runs is its ``launch``: ``Local()`` today — the training process on this computer, or the
calling thread. A launch decides *where*, never *what*: the session it runs is the same.
A new launch (N processes through torchrun, Ray tasks on a cluster) is a ``Launch``
subclass with its own ``run_all``; nothing that builds requests or reads results changes.
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

    def run_all(self, requests, emit, control) -> list:
        from designer.training.run.local import run_locally

        return run_locally(requests, emit, control, own_process=self.own_process, torch_threads=self.torch_threads)


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


__all__ = ["Launch", "Local", "RunRequest", "new_run_id"]
