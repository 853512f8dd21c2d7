"""`train` with bad dataset files and with a download: what a person sees (issue 14, defects 3, 4, 11, 13)."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "resources" / "templates" / "lenet5.json"
SAMPLE = ROOT / "resources" / "datasets" / "mnist-sample"


def run_main(*arguments, env=None, timeout=180):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def sample_copy(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in SAMPLE.glob("*idx*"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def replace(folder: Path, name: str, payload: bytes, gzipped: bool = True) -> None:
    for old in folder.glob(name.removesuffix(".gz") + "*"):
        old.unlink()
    if gzipped:
        (folder / name).write_bytes(gzip.compress(payload))
    else:
        (folder / name.removesuffix(".gz")).write_bytes(payload)


HUGE = struct.pack(">IIII", 2051, 4294967295, 28, 28) + bytes(1000)
NO_IMAGES = struct.pack(">IIII", 2051, 0, 28, 28)
NO_LABELS = struct.pack(">II", 2049, 0)


@pytest.mark.parametrize("case", ["huge header, gzip", "huge header, plain", "no training images",
                                  "no test images"])
def test_bad_dataset_files_exit_2_before_training_and_write_nothing(tmp_path, case):
    folder = sample_copy(tmp_path / "data")
    if case.startswith("huge"):
        replace(folder, "train-images-idx3-ubyte.gz", HUGE, gzipped=case.endswith("gzip"))
        expected = "train-images-idx3-ubyte"
        words = "is damaged or not an IDX file: its header announces 4294967295×28×28"
    else:
        split = "train" if "training" in case else "t10k"
        replace(folder, f"{split}-images-idx3-ubyte.gz", NO_IMAGES)
        replace(folder, f"{split}-labels-idx1-ubyte.gz", NO_LABELS)
        expected = f"{split}-images-idx3-ubyte.gz"
        words = "holds no images"
    output = tmp_path / "run"
    completed = run_main(LENET, "--data-folder", folder, "--epochs", "1", "--output", output)
    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    error = completed.stderr.strip().splitlines()[-1]
    assert error.startswith("error: MNIST sample: ") and expected in error and words in error, error
    assert "choose the built-in sample" in error
    for wrong in ("memory", "batch size", "Traceback", "nan%", "bug"):
        assert wrong not in completed.stdout + completed.stderr
    assert not output.exists()  # no history of a run that never trained


def test_train_says_where_the_data_came_from(tmp_path):
    completed = run_main(LENET, "--epochs", "1", "--output", tmp_path / "run", "--no-download")
    assert completed.returncode == 0, completed.stderr
    assert f"data: mnist-sample from the built-in sample ({SAMPLE})" in completed.stdout.splitlines()


def test_a_download_error_starts_its_own_line(tmp_path):
    """The progress line ends before the error is printed ("…11.6 MBerror: …" before)."""
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (mirror / name).write_bytes(np.arange(300_000, dtype=np.uint8).tobytes())  # wrong checksum
    completed = run_main(LENET, "--dataset", "mnist", "--epochs", "1", "--output", tmp_path / "run",
                         env={"NETWORK_DESIGNER_DATASET_MIRROR": (tmp_path / "mirror").as_uri() + "/",
                              "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert completed.returncode == 2
    assert "downloading" in completed.stderr
    lines = completed.stderr.splitlines()
    assert lines[-1].startswith("error: MNIST: train-images-idx3-ubyte.gz was downloaded but did not match")
    assert not any("MB" in line and "error:" in line for line in lines), completed.stderr
