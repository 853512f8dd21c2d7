"""Finding a dataset (user folder, cache, system folder, download) and reading it whole."""

import dataclasses
import gzip
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import designer.data.locations as locations
from designer.data import (DATASET_NAMES, DatasetError, DownloadCancelled, dataset_info,
                           find_local, load_dataset)
from designer.data.catalogue import DATASET_SPECS, RemoteFile

MIRROR = "https://mirror.test/"


def no_network(url):
    raise urllib.error.URLError("network is unreachable")


def must_not_download(url):
    raise AssertionError(f"tried to download {url} although the data is local")


def serve(mapping):
    def downloader(url):
        if url not in mapping:
            raise urllib.error.URLError("not found")
        return len(mapping[url]), [mapping[url][:100], mapping[url][100:]]
    return downloader


@pytest.fixture
def remote_mnist(tmp_path, monkeypatch, builders):
    """Point MNIST's catalogue entry at small files served from memory; returns url -> bytes."""
    written = builders.write_idx_folder(tmp_path / "published", train_count=20, test_count=8)
    spec = DATASET_SPECS["mnist"]
    files = tuple(RemoteFile(name, builders.md5_of(data), len(data)) for name, data in written.items())
    monkeypatch.setitem(DATASET_SPECS, "mnist", dataclasses.replace(spec, files=files, mirrors=(MIRROR,)))
    return {MIRROR + name: data for name, data in written.items()}


@pytest.fixture
def fashion_system_folder(tmp_path, monkeypatch):
    """Stand in for /usr/share/datasets/fashion-mnist so tests do not depend on Debian."""
    folder = tmp_path / "usr-share-fashion"
    spec = DATASET_SPECS["fashion-mnist"]
    monkeypatch.setitem(DATASET_SPECS, "fashion-mnist",
                        dataclasses.replace(spec, system_folders=(folder,), mirrors=(MIRROR,)))
    return folder


def test_dataset_names_and_info_need_no_data(monkeypatch, tmp_path):
    monkeypatch.setattr(locations, "builtin_datasets_folder", lambda: tmp_path / "nothing")
    assert DATASET_NAMES == ("mnist-sample", "mnist", "fashion-mnist", "cifar10")
    shapes = {name: (dataset_info(name).input_shape, dataset_info(name).num_classes)
              for name in DATASET_NAMES}
    assert shapes == {"mnist-sample": ((1, 28, 28), 10), "mnist": ((1, 28, 28), 10),
                      "fashion-mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10)}
    assert dataset_info("fashion-mnist").class_names[-1] == "Ankle boot"
    assert dataset_info("cifar10").label == "CIFAR-10"


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError, match="Unknown dataset 'imagenet'; choose one of mnist-sample, mnist"):
        load_dataset("imagenet")


def test_download_fills_the_cache_then_the_cache_is_used(tmp_path, remote_mnist, list_files):
    cache = tmp_path / "cache"
    progress = []
    assert find_local("mnist", cache_dir=cache) is None

    dataset = load_dataset("mnist", cache_dir=cache, downloader=serve(remote_mnist),
                           progress=lambda done, total: progress.append((done, total)))

    assert dataset.train_images.shape == (20, 1, 28, 28) and dataset.test_labels.shape == (8,)
    assert dataset.input_shape == (1, 28, 28) and dataset.num_classes == 10
    assert list_files(cache) == sorted(f"mnist/{url.removeprefix(MIRROR)}" for url in remote_mnist)
    total = sum(len(data) for data in remote_mnist.values())
    assert progress[-1] == (total, total)
    assert find_local("mnist", cache_dir=cache) == cache / "mnist"

    again = load_dataset("mnist", cache_dir=cache, downloader=must_not_download)
    np.testing.assert_array_equal(again.train_images, dataset.train_images)


def test_download_fetches_only_the_files_missing_from_the_cache(tmp_path, remote_mnist):
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    first_name = next(iter(remote_mnist)).removeprefix(MIRROR)
    (cache / "mnist" / first_name).write_bytes(remote_mnist[MIRROR + first_name])
    requested = []

    def recording(url):
        requested.append(url)
        return serve(remote_mnist)(url)

    load_dataset("mnist", cache_dir=cache, downloader=recording)
    assert MIRROR + first_name not in requested and len(requested) == 3


def test_no_network_gives_a_message_and_leaves_no_files(tmp_path, remote_mnist, list_files):
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as raised:
        load_dataset("mnist", cache_dir=cache, downloader=no_network)
    message = str(raised.value)
    assert message.startswith("MNIST: train-images-idx3-ubyte.gz could not be downloaded")
    assert "choose the built-in sample (mnist-sample)" in message
    assert list_files(cache) == []


def test_checksum_mismatch_through_load_leaves_no_files(tmp_path, remote_mnist, list_files):
    cache = tmp_path / "cache"
    tampered = dict(remote_mnist)
    name = MIRROR + "t10k-labels-idx1-ubyte.gz"
    tampered[name] = tampered[name] + b"tampered"
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz was downloaded but did not match"):
        load_dataset("mnist", cache_dir=cache, downloader=serve(tampered))
    # The three good files stay (they were verified); the bad one never appears.
    assert "mnist/t10k-labels-idx1-ubyte.gz" not in list_files(cache)
    assert not [name for name in list_files(cache) if name.endswith(".part")]


def test_cancelled_download_leaves_no_partial_file(tmp_path, remote_mnist, list_files):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadCancelled):
        load_dataset("mnist", cache_dir=cache, downloader=serve(remote_mnist),
                     should_cancel=lambda: True)
    assert list_files(cache) == []


def test_without_download_the_message_names_file_folder_and_choices(tmp_path, fashion_system_folder):
    folder = tmp_path / "my-data"
    folder.mkdir()
    with pytest.raises(DatasetError) as raised:
        load_dataset("fashion-mnist", folder, download=False, cache_dir=tmp_path / "cache")
    assert str(raised.value) == (
        f"Fashion-MNIST: train-images-idx3-ubyte.gz not found in {folder}. Place the four IDX "
        f"files in {folder}, install Debian's dataset-fashion-mnist, allow the download, or "
        f"choose the built-in sample (mnist-sample).")


def test_message_names_the_first_missing_file(tmp_path, builders, fashion_system_folder):
    folder = tmp_path / "my-data"
    builders.write_idx_folder(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"^Fashion-MNIST: t10k-labels-idx1-ubyte\.gz not found in"):
        load_dataset("fashion-mnist", folder, download=False, cache_dir=tmp_path / "cache")


def test_lookup_order_user_folder_then_cache_then_system_folder(tmp_path, builders, fashion_system_folder):
    cache = tmp_path / "cache"
    user_folder = tmp_path / "my-data"
    builders.write_idx_folder(fashion_system_folder, train_count=3, gzipped=False)
    options = dict(cache_dir=cache, downloader=must_not_download)

    assert load_dataset("fashion-mnist", user_folder, **options).train_images.shape[0] == 3

    builders.write_idx_folder(cache / "fashion-mnist", train_count=4)
    assert load_dataset("fashion-mnist", user_folder, **options).train_images.shape[0] == 4

    builders.write_idx_folder(user_folder, train_count=5)
    dataset = load_dataset("fashion-mnist", user_folder, **options)
    assert dataset.train_images.shape[0] == 5 and dataset.source == str(user_folder)


def test_incomplete_user_folder_falls_back_to_the_cache(tmp_path, builders, fashion_system_folder):
    user_folder = tmp_path / "my-data"
    builders.write_idx_folder(user_folder, train_count=5)
    (user_folder / "train-labels-idx1-ubyte.gz").unlink()
    builders.write_idx_folder(tmp_path / "cache" / "fashion-mnist", train_count=4)
    assert find_local("fashion-mnist", user_folder, cache_dir=tmp_path / "cache") == \
        tmp_path / "cache" / "fashion-mnist"


def test_damaged_file_in_the_cache_says_to_delete_it(tmp_path, builders, fashion_system_folder):
    cache_folder = tmp_path / "cache" / "fashion-mnist"
    builders.write_idx_folder(cache_folder)
    damaged = cache_folder / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:30])
    with pytest.raises(DatasetError) as raised:
        load_dataset("fashion-mnist", cache_dir=tmp_path / "cache")
    message = str(raised.value)
    assert message.startswith("Fashion-MNIST: t10k-images-idx3-ubyte.gz is a damaged or truncated gzip")
    assert f"Delete it from {cache_folder} so it is downloaded again" in message


def test_images_and_labels_of_different_lengths_are_refused(tmp_path, builders, fashion_system_folder):
    folder = tmp_path / "my-data"
    builders.write_idx_folder(folder, train_count=6)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(builders.idx_bytes(np.zeros(5))))
    with pytest.raises(DatasetError) as caught:
        load_dataset("fashion-mnist", folder, cache_dir=tmp_path / "cache")
    # The files are named and the person is told what to do (issue 14, defect 11).
    assert str(caught.value) == (
        f"Fashion-MNIST: train-images-idx3-ubyte.gz holds 6 training images but train-labels-idx1-ubyte.gz "
        f"holds 5 labels (in {folder}); the two files do not belong together. Replace them in {folder} with "
        f"a good copy of the dataset's files, or choose the built-in sample (mnist-sample).")


def test_labels_outside_the_classes_are_refused(tmp_path, builders, fashion_system_folder):
    folder = tmp_path / "my-data"
    builders.write_idx_folder(folder, test_count=2)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(builders.idx_bytes(np.array([3, 12]))))
    with pytest.raises(DatasetError) as caught:
        load_dataset("fashion-mnist", folder, cache_dir=tmp_path / "cache")
    assert str(caught.value) == (
        f"Fashion-MNIST: the test labels in t10k-labels-idx1-ubyte.gz (in {folder}) run from 3 to 12, but "
        f"Fashion-MNIST has classes 0 to 9: it is not Fashion-MNIST's label file, or it is damaged. Replace it "
        f"in {folder} with a good copy of the dataset's files, or choose the built-in sample (mnist-sample).")


def test_wrong_image_size_is_refused(tmp_path, builders, fashion_system_folder):
    folder = tmp_path / "my-data"
    builders.write_idx_folder(folder, train_count=4)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(builders.idx_bytes(builders.random_images(4, 32, 32))))
    with pytest.raises(DatasetError) as caught:
        load_dataset("fashion-mnist", folder, cache_dir=tmp_path / "cache")
    assert str(caught.value).startswith(
        f"Fashion-MNIST: the training images in train-images-idx3-ubyte.gz (in {folder}) are 1×32×32, but "
        f"Fashion-MNIST images are 1×28×28: these are not Fashion-MNIST's files. Replace them in {folder}")


def test_cifar10_downloads_and_reads(tmp_path, builders, monkeypatch, list_files):
    archive = builders.cifar_archive_bytes()
    spec = DATASET_SPECS["cifar10"]
    monkeypatch.setitem(DATASET_SPECS, "cifar10", dataclasses.replace(
        spec, files=(RemoteFile("cifar-10-python.tar.gz", builders.md5_of(archive), len(archive)),),
        mirrors=(MIRROR,)))
    cache = tmp_path / "cache"
    dataset = load_dataset("cifar10", cache_dir=cache,
                           downloader=serve({MIRROR + "cifar-10-python.tar.gz": archive}))
    assert dataset.input_shape == (3, 32, 32) and dataset.train_images.shape[0] == 15
    assert dataset.class_names[0] == "airplane"
    assert list_files(cache) == ["cifar10/cifar-10-python.tar.gz"]


def test_cifar10_from_a_named_archive_or_folder(tmp_path, builders):
    archive = tmp_path / "downloads" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(builders.cifar_archive_bytes())
    options = dict(cache_dir=tmp_path / "cache", downloader=must_not_download)
    assert load_dataset("cifar10", archive.parent, **options).source == str(archive)
    assert load_dataset("cifar10", archive, **options).train_labels.shape == (15,)


def test_corrupt_cifar_archive_in_user_folder(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + os.urandom(1000))
    with pytest.raises(DatasetError, match=r"^CIFAR-10: cifar-10-python\.tar\.gz is a damaged or truncated archive \(.*\)\. Replace it in .*downloads with a good copy of the dataset's files, or choose the built-in sample \(mnist-sample\)\.$"):
        load_dataset("cifar10", folder, cache_dir=tmp_path / "cache", downloader=must_not_download)


def test_cache_folder_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert locations.default_datasets_cache() == tmp_path / "xdg" / "network-designer" / "datasets"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert locations.default_datasets_cache() == Path.home() / ".cache" / "network-designer" / "datasets"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert locations.user_cache_root() == Path.home() / "Library" / "Caches"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert locations.user_cache_root() == tmp_path / "local"


def test_importing_designer_data_loads_neither_torch_nor_qt():
    code = ("import sys, designer.data; "
            "loaded = [m for m in ('torch', 'PySide6') if m in sys.modules]; "
            "print(loaded); sys.exit(1 if loaded else 0)")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
