"""The ``Processes(n)`` launch: one run, data-parallel, on N processes that torchrun starts.

PyTorch's own launcher starts the processes: ``python -m torch.distributed.run`` (torchrun)
runs ``designer.training.run.rank`` N times, with the rendezvous, the environment
(RANK, WORLD_SIZE, MASTER_ADDR…), the watch over its workers and, across computers, the
multi-node rendezvous. Nothing here launches or coordinates the ranks; this module only
starts torchrun and talks to the ranks it started on this computer.

Why torchrun as a process of its own and not its Python API (``elastic_launch``) in this
one: the launcher installs signal handlers, which only the main thread may do, and the
window runs runs in a worker thread; and in a terminal, Ctrl+C reaches the whole foreground
process group, which would kill the ranks mid-step instead of letting the caller stop them
cleanly. So torchrun runs in a session of its own, and the caller's Stop reaches the ranks
through the channel below.

The channel is plumbing, not a protocol of the launch: this process listens on 127.0.0.1
(``multiprocessing.connection``, authenticated with a random key each rank finds in its
environment). Each rank connects, says who it is (``("hello", rank, world_size, pid)``)
and is sent ``("run", request, torch_threads)``; from then on rank 0 sends every event
(``("event", e)``), every rank hears ``("stop",)`` and ``("abort",)`` (rank 0 reads them
before each step and the per-step all-reduce carries them to every rank: all stop before
the same batch), and every rank ends with ``("ended", RunResult)`` — rank 0's holding the
network. A rank whose connection closes before that has died: the run ends failed with a
message naming it, torchrun ends the others, and this module makes sure none is left.
The ranks write nothing; the caller writes what comes back, atomically.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Listener, wait
from pathlib import Path

from designer.training.records import TrainResult
from designer.training.run.events import EpochDone, RunEnded
from designer.training.run.result import RunOutcome, RunResult, ended_without_training

log = logging.getLogger(__name__)

ENV_ADDRESS = "NETWORK_DESIGNER_RUN_ADDRESS"
ENV_KEY = "NETWORK_DESIGNER_RUN_KEY"
RANK_MODULE = "designer.training.run.rank"
MAX_PROCESSES = 1024
POLL_SECONDS = 0.1
#: how long the ranks may take to wind down after an abort (the window is closing)
ABORT_GRACE_SECONDS = 3.0
#: after a rank died, how long torchrun has to end the others before they are killed here
DEATH_GRACE_SECONDS = 10.0
#: after the last rank ended, how long torchrun may take to exit
EXIT_GRACE_SECONDS = 20.0
OUTPUT_LINES_KEPT = 30
_ENDPOINT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def launch_problems(launch) -> list[str]:
    """What is wrong with a ``Processes`` launch, one sentence each, for a person."""
    problems = []
    if not (_whole(launch.n) and 1 <= launch.n <= MAX_PROCESSES):
        problems.append(f"the number of processes must be a whole number from 1 to {MAX_PROCESSES}, not {launch.n!r}")
    if not (_whole(launch.nnodes) and 1 <= launch.nnodes <= MAX_PROCESSES):
        problems.append(f"the number of nodes must be a whole number from 1 to {MAX_PROCESSES}, "
                        f"not {launch.nnodes!r}")
    elif not (_whole(launch.node_rank) and 0 <= launch.node_rank < launch.nnodes):
        problems.append(f"the node rank must be a whole number from 0 to {launch.nnodes - 1}, "
                        f"not {launch.node_rank!r}")
    if launch.rdzv_endpoint is not None:
        match = _ENDPOINT.match(str(launch.rdzv_endpoint))
        if match is None or not 0 < int(match["port"]) < 65536:
            problems.append(f"the rendezvous endpoint must be HOST:PORT (node 0's address and a free port, "
                            f"e.g. 10.0.0.1:29500), not {str(launch.rdzv_endpoint)[:60]!r}")
    elif _whole(launch.nnodes) and launch.nnodes > 1:
        problems.append("several nodes need a rendezvous endpoint: HOST:PORT of node 0, the same on every node")
    if launch.torch_threads is not None and not (_whole(launch.torch_threads) and launch.torch_threads >= 1):
        problems.append(f"the threads per process must be a whole number of at least 1, not {launch.torch_threads!r}")
    return problems


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def threads_per_process(launch) -> int:
    """The CPUs of this computer divided among its processes (at least one thread each)."""
    return launch.torch_threads or max(1, (os.cpu_count() or 1) // launch.n)


def launcher_arguments(launch) -> list[str]:
    """torchrun's own options for this launch."""
    if launch.nnodes == 1 and launch.rdzv_endpoint is None:
        # A rendezvous on a free local port: several runs on one computer never collide.
        return ["--standalone", "--nproc-per-node", str(launch.n)]
    # The same on every node (a run id would differ: each node's command makes its own request).
    return ["--nnodes", str(launch.nnodes), "--node-rank", str(launch.node_rank), "--rdzv-backend", "static",
            "--rdzv-endpoint", str(launch.rdzv_endpoint), "--nproc-per-node", str(launch.n)]


def run_on_processes(launch, requests, emit, control) -> list:
    """Each request in turn on the launch's processes; one ``RunEnded`` each."""
    results = []
    for request in requests:
        if control.stopped(request.run_id):
            result = ended_without_training(request.run_id, "stopped before it began", None, status="stopped")
        else:
            try:
                result = _Run(launch, request, emit, control).run()
            except OSError as error:  # no port to listen on, no process to start
                result = ended_without_training(
                    request.run_id, f"could not start the processes ({error.strerror or error})", "process")
        emit(RunEnded(request.run_id, result))
        results.append(result)
    return results


@dataclasses.dataclass
class _Rank:
    rank: int
    pid: int
    connection: object
    result: RunResult | None = None
    lost: bool = False


class _Run:
    """One data-parallel run seen from the caller: torchrun, the ranks on this computer, their ends."""

    def __init__(self, launch, request, emit, control) -> None:
        self.launch, self.request, self.emit, self.control = launch, request, emit, control
        self.world_size = launch.n * launch.nnodes
        self.here = range(launch.node_rank * launch.n, (launch.node_rank + 1) * launch.n)
        self.threads = threads_per_process(launch)
        self.ranks: dict[int, _Rank] = {}
        self.unknown: list = []  # connections accepted, not yet introduced
        self.accepted: collections.deque = collections.deque()
        self.died: list[_Rank] = []  # in the order their connections closed
        self.history: list = []  # rank 0's epochs, for a run that ends without its result
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        self.requests_to_forward: collections.deque = collections.deque()  # ("stop"|"abort", run_id)
        self.process: subprocess.Popen | None = None

    # ------------------------------------------------------------------ start

    def run(self) -> RunResult:
        key = secrets.token_bytes(32)
        listener = Listener(("127.0.0.1", 0), authkey=key)
        unwatch = self.control.watch(lambda kind, run_id: self.requests_to_forward.append((kind, run_id)))
        try:
            self.process = self._start_torchrun(listener.address, key)
            threading.Thread(target=self._accept, args=(listener,), daemon=True,
                             name="network-designer-ranks").start()
            return self._serve()
        finally:
            unwatch()
            listener.close()
            self._end_everything()
            for connection in [rank.connection for rank in self.ranks.values()] + self.unknown:
                connection.close()

    def _start_torchrun(self, address, key: bytes) -> subprocess.Popen:
        host, port = address
        environment = dict(os.environ)
        environment[ENV_ADDRESS] = f"{host}:{port}"
        environment[ENV_KEY] = key.hex()
        # torchrun would otherwise set 1 and warn; each rank sets its PyTorch threads too.
        environment["OMP_NUM_THREADS"] = str(self.threads)
        package_root = str(Path(__file__).resolve().parents[3])
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root] + [part for part in environment.get("PYTHONPATH", "").split(os.pathsep) if part])
        command = [sys.executable, "-m", "torch.distributed.run",
                   *launcher_arguments(self.launch), "-m", RANK_MODULE]
        options = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32" \
            else {"start_new_session": True}
        process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, **options)
        threading.Thread(target=self._read_output, args=(process.stdout,), daemon=True,
                         name="network-designer-torchrun-output").start()
        return process

    def _accept(self, listener) -> None:
        while True:
            try:
                self.accepted.append(listener.accept())
            except (OSError, EOFError):
                return  # the listener was closed: the run is over
            except Exception:  # noqa: BLE001 - a stranger without the key: ignore it, keep listening
                log.warning("refused a connection that did not know the run's key")

    def _read_output(self, stream) -> None:
        """torchrun's and the ranks' own output: kept for a message, never shown otherwise."""
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.output.append(text)
                log.debug("torchrun: %s", text)
        stream.close()

    # ------------------------------------------------------------------ the run

    def _serve(self) -> RunResult:
        ended_at = died_at = aborted_at = None
        while True:
            while self.accepted:
                self.unknown.append(self.accepted.popleft())
            self._forward_controls()
            open_connections = self.unknown + [rank.connection for rank in self.ranks.values()
                                               if rank.result is None and not rank.lost]
            for connection in wait(open_connections, POLL_SECONDS) if open_connections else ():
                self._receive(connection)
            if not open_connections:
                time.sleep(POLL_SECONDS)
            now = time.monotonic()
            launcher_done = self.process.poll() is not None
            everyone_done = len(self.ranks) == len(self.here) and all(
                rank.result is not None or rank.lost for rank in self.ranks.values())
            if everyone_done or (launcher_done and not self.unknown and all(
                    rank.result is not None or rank.lost for rank in self.ranks.values())):
                ended_at = ended_at or now
                if launcher_done or now - ended_at > EXIT_GRACE_SECONDS:
                    break
            if self.died:
                died_at = died_at or now
                if now - died_at > DEATH_GRACE_SECONDS:
                    break
            if self.control.aborted:
                aborted_at = aborted_at or now
                if now - aborted_at > ABORT_GRACE_SECONDS:
                    break
            if self.control.stopped(self.request.run_id) and not self.ranks and not self.unknown:
                break  # stopped before any rank came (another node has not joined yet, say)
        return self._result()

    def _forward_controls(self) -> None:
        while self.requests_to_forward:
            kind, run_id = self.requests_to_forward.popleft()
            if kind == "abort" or run_id in (None, self.request.run_id):
                self._send_all(("abort",) if kind == "abort" else ("stop",))

    def _send_all(self, message) -> None:
        for rank in self.ranks.values():
            if rank.result is None and not rank.lost:
                try:
                    rank.connection.send(message)
                except (OSError, ValueError):
                    pass  # its end shows up as a closed connection

    def _receive(self, connection) -> None:
        rank = next((rank for rank in self.ranks.values() if rank.connection is connection), None)
        try:
            message = connection.recv()
        except (EOFError, OSError):
            if rank is None:
                self.unknown.remove(connection)
            elif rank.result is None:
                rank.lost = True
                self.died.append(rank)
            return
        kind = message[0]
        if kind == "hello" and rank is None:
            _hello, number, _world_size, pid = message
            self.unknown.remove(connection)
            self.ranks[number] = _Rank(number, pid, connection)
            try:
                connection.send(("run", self.request, self.threads))
                if self.control.aborted:
                    connection.send(("abort",))
                elif self.control.stopped(self.request.run_id):
                    connection.send(("stop",))
            except (OSError, ValueError):
                pass  # it has gone already: its closed connection says so next
        elif kind == "event" and rank is not None:
            event = message[1]
            if isinstance(event, EpochDone):
                self.history.append(event.metrics)
            self.emit(event)
        elif kind == "ended" and rank is not None:
            rank.result = message[1]

    # ------------------------------------------------------------------ the ending

    def _result(self) -> RunResult:
        run_id = self.request.run_id
        if self.died:
            dead = self.died[0]
            how = self._how_it_ended(dead)
            return self._failed(f"process {dead.rank} of {self.world_size} (pid {dead.pid}) {how}; the run was ended "
                                f"on every process and the design is untouched. If memory ran out, lower the batch "
                                f"size (now {self.request.config.batch_size}) or use fewer processes")
        if self.control.aborted and any(rank.result is None for rank in self.ranks.values()):
            return ended_without_training(run_id, "the window closed while training", None, status="stopped")
        missing = [number for number in self.here if number not in self.ranks]
        if missing:
            if self.control.stopped(run_id) or self.control.aborted:
                return ended_without_training(run_id, "stopped before training began", None, status="stopped")
            names = ", ".join(str(number) for number in missing)
            return self._failed(f"torchrun ended before process{'es' if len(missing) > 1 else ''} {names} started"
                                f"{self._output_excerpt()}")
        results = {rank.rank: rank.result for rank in self.ranks.values()}
        first = min(results)
        chosen = results[first]
        failed = [(number, result) for number, result in sorted(results.items()) if result.status == "failed"]
        if failed and chosen.status != "failed":
            number, chosen = failed[0]
            chosen = _with_message(chosen, f"process {number} of {self.world_size}: {chosen.result.message}")
        if first != 0:  # another computer holds process 0: it keeps the network and the mistakes
            chosen = dataclasses.replace(_with_message(
                chosen, f"{chosen.result.message}; the trained network is with process 0, on node 0"),
                weights=None, module=None)
        return chosen

    def _how_it_ended(self, dead: _Rank) -> str:
        pattern = re.compile(rf"exitcode\s*:\s*(-?\d+)\s*\(pid:\s*{dead.pid}\)")
        for line in self.output:
            match = pattern.search(line)
            if match:
                code = int(match.group(1))
                if code < 0:
                    try:
                        name = signal.Signals(-code).name
                    except ValueError:
                        name = f"signal {-code}"
                    killed = "was killed" if -code == getattr(signal, "SIGKILL", 9) else "crashed"
                    return f"{killed} ({name})"
                return f"exited with status {code} before the run ended"
        return "ended unexpectedly (killed, or crashed)"

    def _failed(self, message: str) -> RunResult:
        result = TrainResult("failed", message, len(self.history), None, None, None, None, 0.0,
                             history=list(self.history), failure="process")
        return RunResult(self.request.run_id, RunOutcome(result, None, ()))

    def _output_excerpt(self) -> str:
        lines = [line for line in self.output if line.strip()][-3:]
        return (": " + " | ".join(line[:200] for line in lines)) if lines else ""

    def _end_everything(self) -> None:
        """No process of this run outlives it: torchrun, then any rank still there, are ended."""
        process = self.process
        if process is None:
            return
        try:
            process.wait(0 if process.poll() is not None else 2.0)
        except subprocess.TimeoutExpired:
            pass
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(3.0)
            except subprocess.TimeoutExpired:
                _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
                process.wait(5.0)
        # torchrun starts each rank in a session of its own: a rank it could not end is ended here.
        for rank in self.ranks.values():
            if _is_rank_process(rank.pid):
                try:
                    os.kill(rank.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                except OSError:
                    pass


def _with_message(result: RunResult, message: str) -> RunResult:
    outcome = dataclasses.replace(result.outcome, result=dataclasses.replace(result.result, message=message))
    return dataclasses.replace(result, outcome=outcome)


def _signal_group(process: subprocess.Popen, number: int) -> None:
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, number)
    except OSError:
        pass


def _is_rank_process(pid: int) -> bool:
    """Still running as one of our ranks (a pid can be reused once its process has gone)."""
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            if (proc / "stat").read_text().split(") ", 1)[1].startswith("Z"):
                return False  # a zombie: gone, not yet collected
            return RANK_MODULE.encode() in (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
    if sys.platform.startswith("linux"):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


__all__ = ["ENV_ADDRESS", "ENV_KEY", "launch_problems", "launcher_arguments", "run_on_processes",
           "threads_per_process"]
