"""Fixtures for the export and import tests: templates, a LeNet-5 trained on the built-in sample,
and a way to run Python where this program cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.core import load_architecture, template_paths

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "datasets" / "mnist-sample"
TEMPLATE_PATHS = {path.stem: path for path in template_paths()}


@pytest.fixture
def standalone():
    """``standalone(code, cwd)``: run Python where this program cannot be imported."""
    return run_standalone


@pytest.fixture
def main_command():
    """``main_command(*arguments)``: run ``python main.py …`` in a subprocess."""
    return run_main


@pytest.fixture
def cli(capsys):
    """``cli(*arguments)`` → (exit code, stdout, stderr) of ``python main.py …`` run in this process
    (torch is loaded already, so it takes a fraction of a subprocess's time)."""
    from designer.cli import main

    def run(*arguments):
        capsys.readouterr()
        code = main([str(argument) for argument in arguments])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def torch_site() -> str:
    import torch

    return str(Path(torch.__file__).resolve().parents[1])


def numpy_site() -> str:
    import numpy

    return str(Path(numpy.__file__).resolve().parents[1])


def run_standalone(code: str, cwd: Path, timeout: int = 300, environment: dict | None = None):
    """Run ``code`` with ``python -I -S`` from ``cwd``: no site-packages processing, so this
    program's (editable) install is not on the path; torch and numpy are added by folder.
    OMP_NUM_THREADS=1 keeps a shared, loaded test machine from thrashing."""
    prelude = ("import sys\n"
               f"sys.path[:0] = [p for p in ({torch_site()!r}, {numpy_site()!r}) if p not in sys.path]\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", **(environment or {}))
    return subprocess.run([sys.executable, "-I", "-S", "-c", prelude + code], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def run_main(*arguments, cwd: Path = ROOT, timeout: int = 300):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, arguments)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.fixture(scope="session")
def trained_lenet(tmp_path_factory):
    """(graph, checkpoint path, module, normalisation, dataset): LeNet-5 trained one epoch."""
    import torch

    from designer.data import load_dataset
    from designer.training.checkpoint import save_checkpoint
    from designer.training.records import TrainConfig
    from designer.training.trainer import Trainer

    graph = load_architecture(TEMPLATE_PATHS["lenet5"])
    dataset = load_dataset("mnist-sample", download=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(graph, TrainConfig(epochs=1, seed=0, device="cpu"), dataset=dataset)
        result = trainer.run()
    finally:
        torch.set_num_threads(threads)
    assert result.status == "finished", result.message
    path = tmp_path_factory.mktemp("trained") / "lenet5.pt"
    save_checkpoint(path, graph, trainer.module, trainer.config, result, trainer.normalisation,
                    dataset.class_names)
    return graph, path, trainer.module.eval(), trainer.normalisation, dataset
