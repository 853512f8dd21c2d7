"""The thread policy (issue 14, speed under load): one thread per free core, idle OpenMP threads sleep.

The speed itself is measured by ``tests/benchmarks/bench_training_overhead.py --case
contention``; these tests check the decisions behind it on a /proc/stat written here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.training import threads
from designer.training.threads import CpuSnapshot, ThreadPolicy, free_cpus, prepare_openmp, take_snapshot

ROOT = Path(__file__).resolve().parents[2]


def stat_text(idle_ticks: dict[int, int]) -> str:
    lines = ["cpu  100 0 100 %d 0 0 0 0 0 0" % sum(idle_ticks.values())]
    lines += [f"cpu{cpu} 50 0 50 {ticks} 0 0 0 0 0 0" for cpu, ticks in idle_ticks.items()]
    lines += ["intr 1 2 3", "procs_running 3"]
    return "\n".join(lines) + "\n"


def test_a_snapshot_reads_the_idle_ticks_of_the_usable_cpus_only(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(stat_text({0: 1000, 1: 2000, 2: 3000}))
    snapshot = take_snapshot([0, 2], str(stat))
    assert snapshot is not None and snapshot.idle == {0: 1000, 2: 3000}


def test_no_proc_stat_means_no_snapshot(tmp_path):
    assert take_snapshot([0, 1], str(tmp_path / "missing")) is None


def test_free_cpus_are_the_idle_time_plus_our_own_use_per_second():
    before = CpuSnapshot(at=10.0, idle={0: 0, 1: 0}, own_seconds=1.0)
    # Over 2 s: CPU 0 idle 1.5 s, CPU 1 idle 0 s (someone else's), and we used 0.5 s ourselves.
    after = CpuSnapshot(at=12.0, idle={0: 150, 1: 0}, own_seconds=1.5)
    assert free_cpus(before, after, ticks_per_second=100) == pytest.approx(1.0)
    # Never more than the CPUs there are, never less than none.
    busy_self = CpuSnapshot(at=12.0, idle={0: 400, 1: 400}, own_seconds=5.0)
    assert free_cpus(before, busy_self, ticks_per_second=100) == 2.0


class FakeClock:
    def __init__(self, monkeypatch) -> None:
        self.now = 100.0
        monkeypatch.setattr(threads.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(threads.time, "process_time", lambda: 0.0)
        monkeypatch.setattr(threads.time, "sleep", self.sleep)
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


@pytest.mark.parametrize("idle_per_cpu, limit, expected", [
    ((1.0, 1.0, 1.0, 1.0), 3, 3),  # an idle machine: the limit, as before
    ((1.0, 1.0, 0.0, 0.0), 3, 2),  # two cores busy elsewhere: two threads
    ((0.1, 0.0, 0.0, 0.0), 3, 1),  # every core busy: still one
    ((0.9, 0.9, 0.0, 0.0), 3, 2),  # a little of a core in use is the system's own
    ((0.7, 0.7, 0.0, 0.0), 3, 1),  # 1.4 cores free is not two
])
def test_a_run_takes_one_thread_per_free_core_up_to_the_limit(tmp_path, monkeypatch, idle_per_cpu, limit, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    clock = FakeClock(monkeypatch)
    stat = tmp_path / "stat"
    cpus = list(range(len(idle_per_cpu)))
    stat.write_text(stat_text({cpu: 0 for cpu in cpus}))
    policy = ThreadPolicy(cpus, str(stat))
    policy.mark()
    clock.now += 2.0  # loading PyTorch
    ticks = os.sysconf("SC_CLK_TCK")
    stat.write_text(stat_text({cpu: int(idle * 2.0 * ticks) for cpu, idle in zip(cpus, idle_per_cpu)}))
    choice = policy.choose(limit)
    assert choice.threads == expected
    assert f"of {len(cpus)} cores free" in choice.reason
    assert clock.slept == 0, "a mark of 2 s ago needs no waiting"


def test_a_stale_mark_is_measured_again_briefly(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    clock = FakeClock(monkeypatch)
    stat = tmp_path / "stat"
    stat.write_text(stat_text({0: 0, 1: 0}))
    policy = ThreadPolicy([0, 1], str(stat))
    policy.mark()
    clock.now += 3600  # an hour since the last run
    policy.choose(1)
    assert clock.slept == pytest.approx(threads.MIN_SAMPLE_SECONDS)


def test_where_the_free_cores_cannot_be_read_the_limit_decides(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    FakeClock(monkeypatch)
    choice = ThreadPolicy([0, 1], str(tmp_path / "missing")).choose(3)
    assert choice.threads == 3 and "not known" in choice.reason


def test_a_persons_own_thread_count_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert ThreadPolicy([0, 1]).choose(4).threads == 4


def test_the_wait_policy_is_passive_unless_the_person_chose_one():
    environment: dict[str, str] = {}
    prepare_openmp(environment)
    assert environment == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    prepare_openmp(mine)
    assert mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_the_command_line_sets_the_wait_policy_before_torch_loads():
    code = ("import os, sys\nos.environ.pop('OMP_WAIT_POLICY', None)\nimport designer.cli\n"
            "designer.cli.main(['info', 'resources/templates/lenet5.json'])\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "PASSIVE False"


def test_train_says_how_many_threads_it_used(tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(ROOT / "resources" / "templates" /
                                "lenet5.json"), "--epochs", "1", "--output", str(tmp_path / "run"), "--no-download",
                                "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    line = next(line for line in completed.stdout.splitlines() if line.startswith("training on "))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = int(line.split("(")[1].split(" thread")[0])
    assert 1 <= count <= max(1, cores - 1), line
    import json

    assert json.loads((tmp_path / "run" / "history.json").read_text())["run"]["threads"] == count
