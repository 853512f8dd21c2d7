"""Reading MNIST-style IDX files, and refusing damaged ones with a message naming the file."""

import gzip
import struct

import numpy as np
import pytest

from designer.data import DatasetError
from designer.data.idx import read_idx_images, read_idx_labels


@pytest.mark.parametrize("gzipped", [True, False])
def test_reads_images_and_labels_gzipped_or_not(tmp_path, builders, gzipped):
    images = builders.random_images(5, 28, 28)
    labels = np.array([3, 1, 4, 1, 5])
    payloads = {"images": builders.idx_bytes(images), "labels": builders.idx_bytes(labels)}
    for kind, payload in payloads.items():
        (tmp_path / kind).write_bytes(gzip.compress(payload) if gzipped else payload)

    read_images = read_idx_images(tmp_path / "images")
    read_labels = read_idx_labels(tmp_path / "labels")

    assert read_images.shape == (5, 1, 28, 28) and read_images.dtype == np.uint8
    np.testing.assert_array_equal(read_images[:, 0], images)
    assert read_labels.dtype == np.int64
    np.testing.assert_array_equal(read_labels, labels)
    # Writable, so torch.from_numpy takes it without a warning.
    assert read_images.flags.writeable


def test_gunzipped_file_that_kept_its_gz_name_is_read(tmp_path, builders):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(builders.idx_bytes(np.array([7, 8, 9])))
    np.testing.assert_array_equal(read_idx_labels(path), [7, 8, 9])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz not found"):
        read_idx_labels(tmp_path / "t10k-labels-idx1-ubyte.gz")


def test_truncated_gzip_is_refused(tmp_path, builders):
    compressed = gzip.compress(builders.idx_bytes(builders.random_images(50)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz is a damaged or truncated gzip"):
        read_idx_images(path)


def test_gzip_with_corrupt_contents_is_refused(tmp_path, builders):
    compressed = bytearray(gzip.compress(builders.idx_bytes(builders.random_images(50))))
    compressed[len(compressed) // 2] ^= 0xFF  # damages the deflate stream or its CRC
    path = tmp_path / "images.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DatasetError, match=r"images\.gz is a damaged"):
        read_idx_images(path)


def test_labels_file_given_as_images_is_refused_by_magic_number(tmp_path, builders):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(builders.idx_bytes(np.array([1, 2, 3])))
    with pytest.raises(DatasetError, match=r"not an IDX image file: its magic number is 2049, expected 2051"):
        read_idx_images(path)


def test_file_that_is_not_idx_at_all_is_refused(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DatasetError, match="magic number"):
        read_idx_labels(path)


def test_raw_file_shorter_than_its_header_says_is_refused(tmp_path, builders):
    payload = builders.idx_bytes(builders.random_images(4))
    path = tmp_path / "images"
    path.write_bytes(payload[:-10])
    with pytest.raises(DatasetError, match=r"images is truncated: its header announces 4×28×28 = 3,136 bytes"):
        read_idx_images(path)


def test_file_ending_inside_the_header_is_refused(tmp_path, builders):
    path = tmp_path / "images"
    path.write_bytes(builders.idx_bytes(builders.random_images(4))[:9])
    with pytest.raises(DatasetError, match="ends inside the IDX header"):
        read_idx_images(path)


def test_file_longer_than_its_header_says_is_refused(tmp_path, builders):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(builders.idx_bytes(np.array([1, 2])) + b"\x00"))
    with pytest.raises(DatasetError, match="longer than its header"):
        read_idx_labels(path)


# ------------------------------------------------------------------ issue 14, defect 3: absurd headers

HUGE_HEADER = struct.pack(">IIII", 2051, 4294967295, 28, 28)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_header_announcing_terabytes_is_refused_before_anything_is_allocated(tmp_path, gzipped, monkeypatch):
    path = tmp_path / "train-images-idx3-ubyte"
    data = HUGE_HEADER + bytes(1000)
    path.write_bytes(gzip.compress(data) if gzipped else data)

    def no_big_arrays(size, *args, **kwargs):  # the reader must not even try
        assert size <= 1 << 20, f"allocated {size:,} bytes"
        return original_empty(size, *args, **kwargs)

    original_empty = np.empty
    monkeypatch.setattr(np, "empty", no_big_arrays)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte is damaged or not an IDX file: its header "
                                           r"announces 4294967295×28×28 = 3,367,254,359,280 bytes of data, more "
                                           r"than the 1,073,741,824 this program reads\."):
        read_idx_images(path)


def test_a_plain_file_shorter_than_its_header_is_refused_before_allocating(tmp_path, monkeypatch):
    path = tmp_path / "images"
    path.write_bytes(struct.pack(">IIII", 2051, 1_000_000, 28, 28) + bytes(1000))
    monkeypatch.setattr(np, "empty", lambda *args, **kwargs: pytest.fail("allocated before checking the size"))
    with pytest.raises(DatasetError, match=r"images is truncated: its header announces 1000000×28×28 = "
                                           r"784,000,000 bytes of data but the file holds only 1,000\."):
        read_idx_images(path)


def test_a_gzip_stream_shorter_than_its_header_is_read_only_as_far_as_it_goes(tmp_path, monkeypatch):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 1_000_000, 28, 28) + bytes(5000)))
    monkeypatch.setattr(np, "empty", lambda *args, **kwargs: pytest.fail("allocated what the header promised"))
    with pytest.raises(DatasetError, match=r"images\.gz is truncated: its header announces 1000000×28×28 = "
                                           r"784,000,000 bytes of data but only 5,000 are there\."):
        read_idx_images(path)


def test_a_gzipped_file_reads_into_a_writable_array(tmp_path, builders):
    images = builders.random_images(3)
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(builders.idx_bytes(images)))
    read = read_idx_images(path)
    assert read.flags.writeable and np.array_equal(read[:, 0], images)
