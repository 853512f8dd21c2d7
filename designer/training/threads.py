"""How many threads PyTorch trains with, and how its idle threads wait: for a computer shared
with other programs.

Two measured facts (``tests/benchmarks/bench_training_overhead.py --case contention``) set
the policy:

- PyTorch's CPU kernels split each operation among their threads and wait for the slowest.
  A thread that must share its core with another busy program makes every operation wait for
  its turn: with one core busy elsewhere, two threads on two cores trained LeNet-5 at a
  fraction of one thread's speed. So a run takes as many threads as there are cores *free*
  when it starts, measured, not as many as the machine has.
- OpenMP's threads spin between operations by default, burning a core each that another
  program (or another of our threads) needed. ``OMP_WAIT_POLICY=PASSIVE`` makes them sleep;
  under contention that was the larger of the two effects, and it costs nothing measurable
  with one thread. It only takes effect when set before OpenMP starts, so it is put in the
  environment before torch loads (``prepare_openmp``): by the command line at its start,
  and for the training process, which inherits it.

The upper limit stays what it was (PyTorch's own choice less one core, which the window's
painting needs), so on an idle machine nothing changes. A person's own ``OMP_NUM_THREADS``
or ``OMP_WAIT_POLICY`` is respected. No torch at import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
#: the shortest span over which CPU idle time says anything (the kernel counts in 10 ms ticks)
MIN_SAMPLE_SECONDS = 0.1
#: an older measurement no longer says what the machine is doing now
MAX_SAMPLE_AGE_SECONDS = 10.0
#: a core counts as free when at least this much of it is (a little load is the system's own)
FREE_ENOUGH = 0.8


def prepare_openmp(environ=None) -> None:
    """Make OpenMP's idle threads sleep instead of spinning, unless the person chose otherwise.

    Call before torch is imported: OpenMP reads its environment once, when it loads.
    Processes started from here (the training process) inherit the setting.
    """
    environ = os.environ if environ is None else environ
    environ.setdefault(WAIT_POLICY_VARIABLE, "PASSIVE")


def usable_cpus() -> list[int] | None:
    """The CPUs this process may run on (its affinity), or None where the system cannot say."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return sorted(os.sched_getaffinity(0))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class CpuSnapshot:
    """Idle ticks of each usable CPU, and this process's own CPU time, at one moment."""

    at: float  # time.monotonic()
    idle: dict[int, int]  # CPU number → idle + iowait ticks (USER_HZ) from /proc/stat
    own_seconds: float  # time.process_time(): every thread of this process


def take_snapshot(cpus: list[int] | None = None, stat_path: str = "/proc/stat") -> CpuSnapshot | None:
    """None where there is no /proc/stat (macOS, Windows) or it cannot be read."""
    cpus = usable_cpus() if cpus is None else cpus
    if not cpus:
        return None
    wanted = {f"cpu{number}": number for number in cpus}
    idle: dict[int, int] = {}
    try:
        with open(stat_path, encoding="ascii") as stat:
            for line in stat:
                name, _, rest = line.partition(" ")
                if name in wanted:
                    fields = rest.split()
                    idle[wanted[name]] = int(fields[3]) + int(fields[4])  # idle, iowait
                elif idle and not name.startswith("cpu"):
                    break  # the CPU lines come first
    except (OSError, ValueError, IndexError):
        return None
    if len(idle) != len(cpus):
        return None
    return CpuSnapshot(time.monotonic(), idle, time.process_time())


def free_cpus(before: CpuSnapshot, after: CpuSnapshot, ticks_per_second: float | None = None) -> float | None:
    """How many of the usable CPUs were free for us between two snapshots: their idle time plus
    what this process itself used (that would be ours again), per second."""
    span = after.at - before.at
    if span <= 0 or before.idle.keys() != after.idle.keys():
        return None
    if ticks_per_second is None:
        ticks_per_second = _ticks_per_second()
    idle_seconds = sum(after.idle[cpu] - before.idle[cpu] for cpu in after.idle) / ticks_per_second
    own = max(0.0, after.own_seconds - before.own_seconds)
    return max(0.0, min(float(len(after.idle)), (idle_seconds + own) / span))


def _ticks_per_second() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str  # for a person: "1 of 2 cores free"


class ThreadPolicy:
    """Chooses the thread count of each run from the cores free when it starts.

    ``mark()`` remembers the machine's state now (at process start, after each run), so
    that ``choose`` usually needs no waiting: the span since the mark is the sample. Only a
    mark too recent to say anything, or too old to still be true, costs a short wait.
    """

    def __init__(self, cpus: list[int] | None = None, stat_path: str = "/proc/stat") -> None:
        self._cpus = usable_cpus() if cpus is None else cpus
        self._stat_path = stat_path
        self._mark: CpuSnapshot | None = None

    def mark(self) -> None:
        self._mark = take_snapshot(self._cpus, self._stat_path) if self._cpus else None

    def measure_free(self) -> float | None:
        if not self._cpus:
            return None
        now = time.monotonic()
        before = self._mark
        if before is None or not MIN_SAMPLE_SECONDS <= now - before.at <= MAX_SAMPLE_AGE_SECONDS:
            before = take_snapshot(self._cpus, self._stat_path)
            if before is None:
                return None
            time.sleep(MIN_SAMPLE_SECONDS)
        after = take_snapshot(self._cpus, self._stat_path)
        if after is None:
            return None
        self._mark = after
        return free_cpus(before, after)

    def choose(self, limit: int) -> ThreadChoice:
        """At most ``limit`` threads, one per free core, at least one."""
        limit = max(1, limit)
        if "OMP_NUM_THREADS" in os.environ:  # the person's own choice, as PyTorch read it
            return ThreadChoice(limit, "OMP_NUM_THREADS")
        free = self.measure_free()
        cores = len(self._cpus) if self._cpus else (os.cpu_count() or 1)
        if free is None:
            return ThreadChoice(limit, f"{cores} cores; how many are free is not known here")
        threads = max(1, min(limit, int(free + (1 - FREE_ENOUGH))))
        return ThreadChoice(threads, f"{free:.1f} of {cores} cores free")


_policy: ThreadPolicy | None = None


def policy() -> ThreadPolicy:
    """This process's policy (marked when first asked for)."""
    global _policy
    if _policy is None:
        _policy = ThreadPolicy()
        _policy.mark()
    return _policy


_torch_choice: int | None = None


def thread_limit(torch) -> int:
    """The most threads a run takes: PyTorch's own choice less one core for the window's painting
    (with every core in PyTorch's pool, the window and the pool slow each other down)."""
    global _torch_choice
    if _torch_choice is None:  # before any run of this process changed it
        _torch_choice = torch.get_num_threads()
    if "OMP_NUM_THREADS" in os.environ:
        return _torch_choice
    cpus = usable_cpus()
    cores = len(cpus) if cpus else (os.cpu_count() or 1)
    return max(1, min(_torch_choice, cores - 1))


__all__ = ["CpuSnapshot", "ThreadChoice", "ThreadPolicy", "WAIT_POLICY_VARIABLE", "free_cpus", "policy",
           "prepare_openmp", "take_snapshot", "thread_limit", "usable_cpus"]
