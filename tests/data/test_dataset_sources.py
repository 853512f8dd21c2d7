"""Which data a run used, in words (issue 14, defect 13), and datasets with no images (defect 4)."""

from __future__ import annotations

import dataclasses
import gzip
import urllib.error

import numpy as np
import pytest

from designer.data import DatasetError, describe_source, load_dataset
from designer.data.catalogue import DATASET_SPECS, RemoteFile
from designer.data.locations import builtin_datasets_folder

MIRROR = "https://mirror.test/"


def must_not_download(url):
    raise AssertionError(f"tried to download {url}")


@pytest.fixture
def fashion(tmp_path, monkeypatch, builders):
    """Fashion-MNIST whose system folder and mirror are stand-ins; returns the served files."""
    system = tmp_path / "usr-share-fashion"
    written = builders.write_idx_folder(tmp_path / "published", train_count=10, test_count=4)
    files = tuple(RemoteFile(name, builders.md5_of(data), len(data)) for name, data in written.items())
    spec = DATASET_SPECS["fashion-mnist"]
    monkeypatch.setitem(DATASET_SPECS, "fashion-mnist",
                        dataclasses.replace(spec, system_folders=(system,), mirrors=(MIRROR,), files=files))
    return system, {MIRROR + name: data for name, data in written.items()}


def test_each_kind_of_source_is_named(tmp_path, builders, fashion):
    system, served = fashion
    cache = tmp_path / "cache"
    folder = tmp_path / "mine"

    def downloader(url):
        if url not in served:
            raise urllib.error.URLError("not found")
        return len(served[url]), [served[url]]

    # Nothing on this computer: describe_source says what would happen, load_dataset does it.
    assert describe_source("fashion-mnist", cache_dir=cache) == (
        f"not on this computer: a download of 30.9 MB into the cache ({cache / 'fashion-mnist'})")
    downloaded = load_dataset("fashion-mnist", cache_dir=cache, downloader=downloader)
    assert downloaded.origin == f"a download into the cache ({cache / 'fashion-mnist'})"
    # The next time it is in the cache.
    assert load_dataset("fashion-mnist", cache_dir=cache, downloader=must_not_download).origin == \
        f"the cache ({cache / 'fashion-mnist'})"
    assert describe_source("fashion-mnist", cache_dir=cache) == f"the cache ({cache / 'fashion-mnist'})"
    # A folder the person names comes first.
    builders.write_idx_folder(folder)
    assert load_dataset("fashion-mnist", folder, cache_dir=cache).origin == f"your folder ({folder})"
    # Debian's package when neither folder nor cache has it.
    builders.write_idx_folder(system)
    empty_cache = tmp_path / "empty-cache"
    from_system = load_dataset("fashion-mnist", cache_dir=empty_cache, downloader=must_not_download)
    assert from_system.origin == f"Debian's dataset-fashion-mnist package ({system})"
    assert describe_source("fashion-mnist", cache_dir=empty_cache) == from_system.origin


def test_the_built_in_sample_says_so(tmp_path):
    sample = load_dataset("mnist-sample", cache_dir=tmp_path)
    assert sample.origin == f"the built-in sample ({builtin_datasets_folder() / 'mnist-sample'})"
    assert describe_source("mnist-sample") == sample.origin


@pytest.mark.parametrize("split, images_file, labels_file", [
    ("training", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
])
def test_a_split_with_no_images_is_refused_with_the_file_named(tmp_path, builders, fashion, split,
                                                                images_file, labels_file):
    folder = tmp_path / "mine"
    builders.write_idx_folder(folder)
    (folder / images_file).write_bytes(gzip.compress(builders.idx_bytes(np.zeros((0, 28, 28)))))
    (folder / labels_file).write_bytes(gzip.compress(builders.idx_bytes(np.zeros(0))))
    with pytest.raises(DatasetError) as caught:
        load_dataset("fashion-mnist", folder, cache_dir=tmp_path / "cache", downloader=must_not_download)
    assert str(caught.value) == (
        f"Fashion-MNIST: {images_file} in {folder} holds no images; the {split} set needs at least one. "
        f"Replace it in {folder} with a good copy of the dataset's files, or choose the built-in sample "
        f"(mnist-sample).")
