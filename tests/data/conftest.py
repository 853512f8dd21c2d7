"""Builders for small dataset files in the real on-disk formats.

Written with struct/pickle/tarfile directly rather than with designer.data's own
encoder, so a reader bug cannot be hidden by a matching writer bug.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

IDX_FILENAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def idx_bytes(values: np.ndarray) -> bytes:
    values = np.asarray(values, dtype=np.uint8)
    magic = 2051 if values.ndim == 3 else 2049
    return struct.pack(f">I{values.ndim}I", magic, *values.shape) + values.tobytes()


def random_images(count: int, height: int = 28, width: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width), dtype=np.uint8)


def write_idx_folder(folder: Path, train_count: int = 12, test_count: int = 6, *,
                     gzipped: bool = True, seed: int = 0) -> dict[str, bytes]:
    """Four IDX files for a 10-class, 28×28 dataset; returns filename -> bytes on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    contents = {
        IDX_FILENAMES[0]: idx_bytes(random_images(train_count, seed=seed)),
        IDX_FILENAMES[1]: idx_bytes(rng.integers(0, 10, train_count)),
        IDX_FILENAMES[2]: idx_bytes(random_images(test_count, seed=seed + 1)),
        IDX_FILENAMES[3]: idx_bytes(rng.integers(0, 10, test_count)),
    }
    written = {}
    for filename, payload in contents.items():
        data = gzip.compress(payload) if gzipped else payload
        name = filename if gzipped else filename.removesuffix(".gz")
        (folder / name).write_bytes(data)
        written[name] = data
    return written


def cifar_batch_bytes(count: int, first_label: int = 0, protocol: int = 4) -> bytes:
    # The official batches are dicts of bytes keys; b"data" is an N×3072 uint8 array.
    data = (np.arange(count * 3072, dtype=np.int64) % 251).astype(np.uint8).reshape(count, 3072)
    batch = {b"batch_label": b"testing batch", b"data": data,
             b"labels": [(first_label + index) % 10 for index in range(count)],
             b"filenames": [b"image_%d.png" % index for index in range(count)]}
    return pickle.dumps(batch, protocol=protocol)


def cifar_members(per_batch: int = 3, protocol: int = 4, *, leave_out: str = "") -> dict[str, bytes]:
    members = {f"data_batch_{number}": cifar_batch_bytes(per_batch, number, protocol)
               for number in range(1, 6)}
    members["test_batch"] = cifar_batch_bytes(per_batch + 1, 0, protocol)
    members["batches.meta"] = pickle.dumps(
        {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog",
                          b"frog", b"horse", b"ship", b"truck"],
         b"num_cases_per_batch": per_batch, b"num_vis": 3072}, protocol=protocol)
    members.pop(leave_out, None)
    return members


def cifar_archive_bytes(members: dict[str, bytes] | None = None) -> bytes:
    members = cifar_members() if members is None else members
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def builders() -> SimpleNamespace:
    return SimpleNamespace(
        idx_bytes=idx_bytes, random_images=random_images, write_idx_folder=write_idx_folder,
        cifar_batch_bytes=cifar_batch_bytes, cifar_members=cifar_members,
        cifar_archive_bytes=cifar_archive_bytes, md5_of=md5_of, idx_filenames=IDX_FILENAMES)


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def list_files():
    return files_under
