"""Reader for CIFAR-10's "python version": cifar-10-python.tar.gz or its extracted folder.

The archive holds cifar-10-batches-py/data_batch_1..5, test_batch and batches.meta,
each a pickled dict. b"data" is a uint8 array of N×3072 (1024 red, 1024 green,
1024 blue values, each a row-major 32×32 plane), b"labels" a list of ints.
"""

from __future__ import annotations

import importlib
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from designer.data.errors import DatasetError

BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{number}" for number in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
_IMAGE_SHAPE = (3, 32, 32)
_VALUES_PER_IMAGE = 3 * 32 * 32


def _numpy_global(qualified_name: str):
    # numpy 2 moved numpy.core to numpy._core; the CIFAR files (pickled under numpy 1)
    # name the old module, and importing it under numpy 2 warns, so resolve to whichever
    # module this numpy really has.
    module_name, _, attribute = qualified_name.rpartition(".")
    for candidate in (module_name.replace("numpy.core", "numpy._core"),
                      module_name.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(candidate), attribute)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no {qualified_name}")


# Pickle is the official format of these files, so it cannot be avoided, but a pickle
# can name any importable callable and so run arbitrary code. A real CIFAR batch only
# ever needs numpy's array reconstruction (dicts, lists, bytes, str and ints have their
# own opcodes and need no lookup), so every other global is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    # What numpy itself uses for arrays pickled with protocol 5.
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a CIFAR batch never contains; "
                f"refusing to load it because a pickle can run code")
        return _numpy_global(f"{module}.{name}")


def _unpickle(data: bytes, filename: str) -> dict:
    try:
        # encoding="bytes": the batches were pickled by Python 2, whose str is our bytes.
        loaded = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # a damaged pickle can raise nearly anything
        raise DatasetError(f"{filename} is not a readable CIFAR batch ({error}).") from error
    if not isinstance(loaded, dict):
        raise DatasetError(f"{filename} is not a CIFAR batch (it holds a "
                           f"{type(loaded).__name__}, not a dict).")
    return loaded


def _batch_arrays(batch: dict, filename: str) -> tuple[np.ndarray, np.ndarray]:
    data = batch.get(b"data")
    labels = batch.get(b"labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DatasetError(f"{filename} is not a CIFAR-10 batch: it lacks b'data' or b'labels'.")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _VALUES_PER_IMAGE:
        raise DatasetError(f"{filename} holds data of {data.dtype} {data.shape}; a CIFAR-10 "
                           f"batch holds uint8 rows of {_VALUES_PER_IMAGE} values.")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise DatasetError(f"{filename} has {data.shape[0]} images but {labels.size} labels.")
    images = data.reshape(data.shape[0], *_IMAGE_SHAPE)
    # Arrays unpickled from protocol-5 buffers can be read-only views of the file's bytes.
    return (images if images.flags.writeable else images.copy()), labels


def _tar_mode(archive: Path) -> str:
    # Name the compression when the content shows gzip so a damaged .tar.gz gets gzip's
    # own complaint, not a list of every format tarfile tried.
    with open(archive, "rb") as handle:
        return "r:gz" if handle.read(2) == b"\x1f\x8b" else "r:*"


def _read_members_from_archive(archive: Path, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        # Iterate in order and read each member as it passes: asking for members by name
        # would make tarfile scan the whole gzip stream and then seek back, decompressing
        # the 170 MB archive several times.
        with tarfile.open(archive, _tar_mode(archive)) as tar:
            for member in tar:
                basename = member.name.rsplit("/", 1)[-1]
                if member.isfile() and basename in wanted and basename not in found:
                    handle = tar.extractfile(member)
                    found[basename] = handle.read() if handle else b""
    except FileNotFoundError:
        raise DatasetError(f"{archive.name} not found in {archive.parent}.") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        # tarfile's "could not be opened" error spans several lines; keep messages on one.
        reason = " ".join(str(error).split())
        raise DatasetError(f"{archive.name} is a damaged or truncated archive ({reason}).") from error
    return found


def _read_members_from_folder(folder: Path, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name in wanted:
        path = folder / name
        if path.is_file():
            try:
                found[name] = path.read_bytes()
            except OSError as error:
                raise DatasetError(f"{name} in {folder} could not be read ({error}).") from error
    return found


def batches_folder_in(folder: Path) -> Path | None:
    """The folder holding the batch files, when `folder` is it or contains it."""
    for candidate in (folder, folder / BATCHES_FOLDER):
        if all((candidate / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return candidate
    return None


def read_cifar10(source: Path, default_class_names: tuple[str, ...]):
    """Read all of CIFAR-10 from the tar(.gz) archive or an extracted batches folder.

    Returns (train_images, train_labels, test_images, test_labels, class_names) with
    images as N×3×32×32 uint8 and labels as int64.
    """
    source = Path(source)
    wanted = {*TRAIN_BATCHES, TEST_BATCH, META_FILE}
    if source.is_dir():
        members = _read_members_from_folder(batches_folder_in(source) or source, wanted)
    else:
        members = _read_members_from_archive(source, wanted)
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if name not in members]
    if missing:
        raise DatasetError(f"{source.name} is incomplete: {', '.join(missing)} "
                           f"{'is' if len(missing) == 1 else 'are'} missing.")

    train_parts = [_batch_arrays(_unpickle(members[name], name), name) for name in TRAIN_BATCHES]
    test_images, test_labels = _batch_arrays(_unpickle(members[TEST_BATCH], TEST_BATCH), TEST_BATCH)
    train_images = np.concatenate([images for images, _ in train_parts])
    train_labels = np.concatenate([labels for _, labels in train_parts])

    class_names = default_class_names
    if META_FILE in members:
        meta = _unpickle(members[META_FILE], META_FILE)
        names = meta.get(b"label_names")
        if isinstance(names, list) and len(names) == len(default_class_names):
            class_names = tuple(name.decode("utf-8", "replace") if isinstance(name, bytes)
                                else str(name) for name in names)
    return train_images, train_labels, test_images, test_labels, class_names
