"""One process of a data-parallel run: what torchrun starts N times for the ``Processes`` launch.

``python -m torch.distributed.run ... -m designer.training.run.rank`` (started by
``designer.training.run.processes``) runs ``main`` in every process. It connects to the
caller (the address and key are in its environment), says who it is, receives the run
request, joins the process group through ``designer.training.distributed`` (the module every
PyTorch export carries: gloo on the CPU, nccl with one GPU per process) and runs the same
session as any other run. Rank 0 sends the events; every rank listens for Stop and sends
its result at the end. Nothing here writes a file.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Client

from designer.training.run.events import RunStarted
from designer.training.run.processes import ENV_ADDRESS, ENV_KEY
from designer.training.run.result import ended_without_training, internal_failure

log = logging.getLogger(__name__)


class _Channel:
    """The connection to the caller: sends from the training thread, a listener thread for Stop."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.abort = threading.Event()

    def send(self, message) -> None:
        with self._lock:
            self._connection.send(message)

    def receive(self):
        return self._connection.recv()

    def listen(self) -> None:
        threading.Thread(target=self._listen, daemon=True, name="network-designer-stop").start()

    def _listen(self) -> None:
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                # The caller has gone: nobody wants this run any more.
                self.abort.set()
                self.stop.set()
                return
            if message[0] == "abort":
                self.abort.set()
            if message[0] in ("stop", "abort"):
                self.stop.set()


def _connect() -> _Channel:
    address, key = os.environ.get(ENV_ADDRESS), os.environ.get(ENV_KEY)
    if not address or not key:
        raise SystemExit(f"{__name__} is started by Network Designer's Processes launch "
                         f"(python main.py train DESIGN --nproc N), not by hand")
    host, port = address.rsplit(":", 1)
    return _Channel(Client((host, int(port)), authkey=bytes.fromhex(key)))


def main() -> int:
    # Ctrl+C and the like are for the caller, which stops the run through the channel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = _connect()
    rank = int(os.environ.get("RANK", "0"))
    channel.send(("hello", rank, int(os.environ.get("WORLD_SIZE", "1")), os.getpid()))
    _kind, request, threads = channel.receive()
    channel.listen()
    try:
        result = _train(request, threads, channel)
    except Exception as error:  # noqa: BLE001 - the caller must always hear how this process ended
        log.exception("training failed unexpectedly")
        result = internal_failure(request.run_id, error)
    channel.send(("ended", result))
    return 0


def _train(request, threads: int, channel: _Channel):
    import torch

    from designer.training import distributed
    from designer.training.session import run_session

    torch.set_num_threads(threads)
    try:
        processes = distributed.start(request.config.device)
    except distributed.DistributedError as error:
        return ended_without_training(request.run_id, str(error), "device")
    with processes:
        # Every process's pid, for whoever watches the run (rank order; one sum over all of them).
        pids = tuple(int(pid) for pid in processes.sum(
            *(os.getpid() if number == processes.rank else 0 for number in range(processes.world_size))))

        def emit(event) -> None:
            if isinstance(event, RunStarted):
                event = dataclasses.replace(event, process_ids=pids)
            channel.send(("event", event))

        result = run_session(request, emit if processes.is_main else _ignore, stop=channel.stop,
                             abort=channel.abort, torch_threads=threads, processes=processes)
        return result.portable() if processes.is_main else dataclasses.replace(result, module=None, weights=None)


def _ignore(event) -> None:
    pass


if __name__ == "__main__":
    sys.exit(main())
