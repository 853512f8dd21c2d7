"""Reading CIFAR-10's python batches from the tar.gz or an extracted folder, safely."""

import io
import os
import pickle
import tarfile
import warnings

import numpy as np
import pytest

from designer.data import DatasetError
from designer.data.catalogue import CIFAR10_NAMES
from designer.data.cifar import read_cifar10


def check_small_cifar(result, per_batch=3):
    train_images, train_labels, test_images, test_labels, class_names = result
    assert train_images.shape == (5 * per_batch, 3, 32, 32) and train_images.dtype == np.uint8
    assert test_images.shape == (per_batch + 1, 3, 32, 32)
    assert train_labels.dtype == np.int64 and train_labels.shape == (5 * per_batch,)
    # Batch n's labels start at n, so order across batches is visible.
    assert list(train_labels[:per_batch]) == [1, 2, 3][:per_batch]
    assert train_labels[per_batch] == 2
    # A row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
    expected_first_row = (np.arange(3072) % 251).astype(np.uint8)
    np.testing.assert_array_equal(train_images[0].reshape(-1), expected_first_row)
    assert train_images[0, 1, 0, 0] == expected_first_row[1024]
    assert train_images[0, 0, 1, 0] == expected_first_row[32]
    assert class_names == CIFAR10_NAMES


def test_reads_the_tar_gz(tmp_path, builders):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(builders.cifar_archive_bytes())
    check_small_cifar(read_cifar10(archive, CIFAR10_NAMES))


def write_extracted(folder, members):
    folder.mkdir(parents=True)
    for name, payload in members.items():
        (folder / name).write_bytes(payload)


@pytest.mark.parametrize("inside_batches_folder", [True, False])
def test_reads_an_extracted_folder(tmp_path, builders, inside_batches_folder):
    write_extracted(tmp_path / "cifar-10-batches-py", builders.cifar_members())
    folder = tmp_path / "cifar-10-batches-py" if inside_batches_folder else tmp_path
    check_small_cifar(read_cifar10(folder, CIFAR10_NAMES))


def test_reads_batches_pickled_with_protocol_5(tmp_path, builders):
    archive = tmp_path / "cifar.tar.gz"
    archive.write_bytes(builders.cifar_archive_bytes(builders.cifar_members(protocol=5)))
    train_images = read_cifar10(archive, CIFAR10_NAMES)[0]
    assert train_images.flags.writeable


def test_batches_naming_numpy_1_modules_are_read_without_warnings(tmp_path, builders):
    # The official files were pickled under numpy 1, so they name numpy.core.multiarray;
    # protocol 3 spells globals as plain text, which lets the test rename the module.
    members = {name: payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
               for name, payload in builders.cifar_members(protocol=3).items()}
    assert b"numpy.core.multiarray\n" in members["data_batch_1"]
    write_extracted(tmp_path / "batches", members)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_small_cifar(read_cifar10(tmp_path / "batches", CIFAR10_NAMES))


def test_random_bytes_are_not_an_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(os.urandom(4096))
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz is a damaged or truncated archive"):
        read_cifar10(archive, CIFAR10_NAMES)


def test_truncated_archive_is_refused(tmp_path, builders):
    data = builders.cifar_archive_bytes()
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DatasetError, match="damaged or truncated archive|incomplete"):
        read_cifar10(archive, CIFAR10_NAMES)


def test_archive_without_the_test_batch_is_refused(tmp_path, builders):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(builders.cifar_archive_bytes(builders.cifar_members(leave_out="test_batch")))
    with pytest.raises(DatasetError, match="test_batch is missing"):
        read_cifar10(archive, CIFAR10_NAMES)


def test_missing_archive_is_named(tmp_path):
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz not found"):
        read_cifar10(tmp_path / "cifar-10-python.tar.gz", CIFAR10_NAMES)


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, builders):
    marker = tmp_path / "code-was-run"
    members = builders.cifar_members()
    members["data_batch_3"] = pickle.dumps({b"data": RunsAShellCommand(marker), b"labels": []})
    write_extracted(tmp_path / "batches", members)
    with pytest.raises(DatasetError, match=r"data_batch_3 is not a readable CIFAR batch .*refusing"):
        read_cifar10(tmp_path / "batches", CIFAR10_NAMES)
    assert not marker.exists()


def test_a_batch_with_the_wrong_row_length_is_refused(tmp_path, builders):
    members = builders.cifar_members()
    members["data_batch_2"] = pickle.dumps({b"data": np.zeros((2, 784), np.uint8), b"labels": [0, 1]})
    write_extracted(tmp_path / "batches", members)
    with pytest.raises(DatasetError, match="data_batch_2 holds data of uint8 \\(2, 784\\)"):
        read_cifar10(tmp_path / "batches", CIFAR10_NAMES)


def test_a_batch_with_fewer_labels_than_images_is_refused(tmp_path, builders):
    members = builders.cifar_members()
    members["test_batch"] = pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0]})
    write_extracted(tmp_path / "batches", members)
    with pytest.raises(DatasetError, match="test_batch has 3 images but 1 labels"):
        read_cifar10(tmp_path / "batches", CIFAR10_NAMES)


def test_a_damaged_pickle_is_refused(tmp_path, builders):
    members = builders.cifar_members()
    members["data_batch_1"] = members["data_batch_1"][:100]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:  # an uncompressed tar is accepted too
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    archive = tmp_path / "cifar.tar"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(DatasetError, match="data_batch_1 is not a readable CIFAR batch"):
        read_cifar10(archive, CIFAR10_NAMES)
