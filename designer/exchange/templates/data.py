"""Datasets for train.py: MNIST-style IDX files and CIFAR-10, as numpy arrays.

``load(folder)`` finds one of them in a folder:

- IDX (MNIST, Fashion-MNIST, the MNIST sample of Network Designer): the four
  files train-images-idx3-ubyte, train-labels-idx1-ubyte,
  t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped (.gz) or not;
- CIFAR-10, "python version": cifar-10-python.tar.gz, or the
  cifar-10-batches-py folder it unpacks to.

Images come out as uint8 arrays of N x C x H x W and labels as int64; nothing
becomes float before a batch is used. Only numpy is needed.
"""

import gzip
import importlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{number}" for number in range(1, 6))
CIFAR_TEST = "test_batch"


class DatasetError(Exception):
    """The folder holds no dataset this file reads, or a file in it is
    damaged."""


class Dataset:
    def __init__(self, train_images, train_labels, test_images, test_labels):
        self.train_images = train_images
        self.train_labels = train_labels
        self.test_images = test_images
        self.test_labels = test_labels

    @property
    def input_shape(self):
        return tuple(self.train_images.shape[1:])


def load(folder):
    """The dataset in ``folder`` (IDX files or CIFAR-10), or DatasetError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    idx = [_idx_path(folder, name) for name in IDX_FILES]
    if all(path is not None for path in idx):
        images, labels, test_images, test_labels = (
            _read_idx(path) for path in idx)
        return Dataset(images[:, None], labels.astype(np.int64),
                       test_images[:, None], test_labels.astype(np.int64))
    for source in (folder / CIFAR_ARCHIVE, folder / CIFAR_FOLDER, folder):
        if source.exists() and _has_cifar(source):
            return _read_cifar(source)
    raise DatasetError(
        f"{folder} holds neither the IDX files ({', '.join(IDX_FILES)}, "
        f"optionally .gz) nor CIFAR-10 ({CIFAR_ARCHIVE} or {CIFAR_FOLDER}/)")


def _idx_path(folder, name):
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path):
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise DatasetError(f"{path.name} cannot be read ({error})") from None
    if len(content) < 4:
        raise DatasetError(f"{path.name} is too short to be an IDX file")
    # Big-endian header: two zero bytes, a type byte (8: unsigned bytes), the
    # number of dimensions, then one 32-bit size per dimension.
    if content[:3] != b"\x00\x00\x08":
        raise DatasetError(f"{path.name} is not an IDX file of unsigned bytes")
    dimensions = content[3]
    header = 4 + 4 * dimensions
    shape = tuple(int.from_bytes(content[4 + 4 * index:8 + 4 * index], "big")
                  for index in range(dimensions))
    values = np.frombuffer(content, dtype=np.uint8,
                           offset=min(header, len(content)))
    if len(content) < header or values.size != int(np.prod(shape)):
        raise DatasetError(f"{path.name} does not hold the {shape} values "
                           f"its header announces")
    return values.reshape(shape).copy()


def _has_cifar(source):
    if source.is_file():
        return source.name.endswith((".tar.gz", ".tgz", ".tar"))
    return all((source / name).is_file()
               for name in CIFAR_TRAIN + (CIFAR_TEST,))


class _ArraysOnly(pickle.Unpickler):
    """CIFAR batches are pickles; a pickle can run code, so this one allows
    numpy arrays only."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not allowed here")
        if module.endswith(".multiarray"):
            # numpy 2 renamed numpy.core to numpy._core; the files name the
            # old one.
            for candidate in ("numpy._core.multiarray",
                              "numpy.core.multiarray"):
                try:
                    return getattr(importlib.import_module(candidate), name)
                except ImportError:
                    continue
        return super().find_class(module, name)


def _batch(content, name):
    try:
        batch = _ArraysOnly(io.BytesIO(content), encoding="bytes").load()
        images = np.asarray(batch[b"data"], dtype=np.uint8)
        images = images.reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as error:  # a damaged pickle can raise nearly anything
        raise DatasetError(
            f"{name} is not a CIFAR-10 batch ({error})") from None
    return images, labels


def _read_cifar(source):
    wanted = CIFAR_TRAIN + (CIFAR_TEST,)
    contents = {}
    if source.is_file():
        try:
            with tarfile.open(source) as archive:
                for member in archive:
                    name = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and name in wanted:
                        contents[name] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise DatasetError(
                f"{source.name} cannot be read ({error})") from None
    else:
        for name in wanted:
            contents[name] = (source / name).read_bytes()
    missing = [name for name in wanted if name not in contents]
    if missing:
        raise DatasetError(f"{source.name} lacks {', '.join(missing)}")
    parts = [_batch(contents[name], name) for name in CIFAR_TRAIN]
    test_images, test_labels = _batch(contents[CIFAR_TEST], CIFAR_TEST)
    return Dataset(np.concatenate([images for images, _ in parts]),
                   np.concatenate([labels for _, labels in parts]),
                   test_images, test_labels)


def stratified_split(labels, fraction, seed):
    """(train indices, validation indices): ``fraction`` of every class held
    out, seeded.

    The same split Network Designer makes for the same labels, fraction and
    seed.
    """
    if fraction <= 0:
        return np.arange(labels.shape[0]), np.zeros(0, dtype=np.int64)
    generator = np.random.default_rng(seed)
    train, validation = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        generator.shuffle(members)
        held = int(round(fraction * members.shape[0]))
        validation.append(members[:held])
        train.append(members[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))


def channel_statistics(images, chunk=4096):
    """Per-channel mean and standard deviation of uint8 images, on the 0..1
    scale."""
    channels = images.shape[1]
    count = images.shape[0] * images.shape[2] * images.shape[3]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, images.shape[0], chunk):
        block = images[start:start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        squares += np.square(block).sum(axis=(0, 2, 3))
    mean = total / max(count, 1)
    variance = np.maximum(squares / max(count, 1) - mean ** 2, 0.0)
    # A constant channel must not divide by zero.
    std = np.where(variance > 1e-12, np.sqrt(variance), 1.0)
    return mean.tolist(), std.tolist()
