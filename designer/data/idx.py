"""Reader for the IDX format of MNIST and Fashion-MNIST, gzipped or not.

Format (http://yann.lecun.com/exdb/mnist/): a big-endian header of a magic number
whose low byte is the number of dimensions, one uint32 per dimension, then the
unsigned bytes in C order.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from designer.data.errors import DatasetError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, three dimensions (count, rows, columns)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, one dimension (count)
_MAGIC_MEANING = {IMAGES_MAGIC: "an IDX image file", LABELS_MAGIC: "an IDX label file"}
_GZIP_SIGNATURE = b"\x1f\x8b"
#: The most data an IDX file may announce: over a million 28×28 images, twenty times MNIST's
#: training file (47 MB). A header announcing more is damaged (4294967295×28×28 is 3.4 TB)
#: and is refused before anything is allocated.
MAX_IDX_BYTES = 1 << 30
_CHUNK_BYTES = 1 << 20


def _open_maybe_gzipped(path: Path) -> BinaryIO:
    # Judge by content, not by name: people gunzip files and keep the ".gz", or the reverse.
    handle = open(path, "rb")
    if handle.read(2) == _GZIP_SIGNATURE:
        handle.close()
        return gzip.open(path, "rb")
    handle.seek(0)
    return handle


def _read_exactly(handle: BinaryIO, buffer: memoryview) -> int:
    filled = 0
    while filled < len(buffer):
        count = handle.readinto(buffer[filled:])
        if not count:
            break
        filled += count
    return filled


def _read_growing(handle: BinaryIO, size: int) -> tuple[np.ndarray, int]:
    """Up to ``size`` bytes as a writable uint8 array, grown as data arrives; and how many came."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = handle.read(min(_CHUNK_BYTES, size - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    # frombuffer over a bytearray shares its memory and stays writable: no second copy.
    return np.frombuffer(buffer, dtype=np.uint8), len(buffer)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes into a writable array shaped as its header says.

    Raises DatasetError naming the file when it is missing, damaged, of the wrong kind
    (magic number) or when its length disagrees with its header.
    """
    path = Path(path)
    kind = _MAGIC_MEANING.get(expected_magic, f"an IDX file with magic {expected_magic}")
    try:
        with _open_maybe_gzipped(path) as handle:
            magic_bytes = handle.read(4)
            if len(magic_bytes) < 4:
                raise DatasetError(f"{path.name} is truncated: it ends inside the IDX header.")
            magic = int.from_bytes(magic_bytes, "big")
            if magic != expected_magic:
                raise DatasetError(f"{path.name} is not {kind}: its magic number is {magic}, "
                                   f"expected {expected_magic}.")
            dimension_count = magic & 0xFF
            dimension_bytes = handle.read(4 * dimension_count)
            if len(dimension_bytes) < 4 * dimension_count:
                raise DatasetError(f"{path.name} is truncated: it ends inside the IDX header.")
            shape = tuple(int.from_bytes(dimension_bytes[index:index + 4], "big")
                          for index in range(0, len(dimension_bytes), 4))
            expected_size = math.prod(shape)
            announced = f"{'×'.join(map(str, shape))} = {expected_size:,} bytes of data"
            if expected_size > MAX_IDX_BYTES:
                raise DatasetError(f"{path.name} is damaged or not an IDX file: its header announces "
                                   f"{announced}, more than the {MAX_IDX_BYTES:,} this program reads.")
            if isinstance(handle, gzip.GzipFile):
                # How much the stream holds is known only by decompressing it: read what the header
                # promises chunk by chunk, so a short stream is found before the memory is taken.
                values, filled = _read_growing(handle, expected_size)
            else:
                available = os.fstat(handle.fileno()).st_size - 4 - 4 * dimension_count
                if available < expected_size:
                    raise DatasetError(f"{path.name} is truncated: its header announces {announced} "
                                       f"but the file holds only {max(available, 0):,}.")
                # Filling a preallocated array avoids a second 47 MB copy for the training images
                # and leaves the array writable (torch.from_numpy warns on read-only arrays).
                values = np.empty(expected_size, dtype=np.uint8)
                filled = _read_exactly(handle, memoryview(values))
            if filled < expected_size:
                raise DatasetError(f"{path.name} is truncated: its header announces {announced} but only "
                                   f"{filled:,} are there.")
            # Reading on to the end also makes gzip check its CRC and length trailer.
            if handle.read(1):
                raise DatasetError(f"{path.name} is longer than its header announces "
                                   f"({'×'.join(map(str, shape))}); it is not a valid IDX file.")
    except FileNotFoundError:
        raise DatasetError(f"{path.name} not found in {path.parent}.") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DatasetError(f"{path.name} is a damaged or truncated gzip file ({error}).") from error
    except OSError as error:
        raise DatasetError(f"{path.name} could not be read ({error}).") from error
    return values.reshape(shape)


def encode_idx(values: np.ndarray) -> bytes:
    """The IDX bytes (not gzipped) for an array of unsigned bytes with 1 or 3 dimensions."""
    values = np.ascontiguousarray(values, dtype=np.uint8)
    magic = {1: LABELS_MAGIC, 3: IMAGES_MAGIC}.get(values.ndim)
    if magic is None:
        raise ValueError(f"IDX here holds labels (1 dimension) or images (3), not {values.ndim}")
    header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in values.shape)
    return header + values.tobytes()


def read_idx_images(path: Path) -> np.ndarray:
    """Images as N×1×H×W uint8 (one grey channel)."""
    images = read_idx(path, IMAGES_MAGIC)
    count, height, width = images.shape
    return images.reshape(count, 1, height, width)


def read_idx_labels(path: Path) -> np.ndarray:
    return read_idx(path, LABELS_MAGIC).astype(np.int64)
