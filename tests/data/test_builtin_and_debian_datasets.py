"""The built-in MNIST sample, and Debian's real Fashion-MNIST files where installed."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from designer.data import DEFAULT_DATASET, dataset_info, find_local, load_dataset
from designer.data.locations import builtin_datasets_folder

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def test_builtin_sample_is_the_default_and_is_available_offline():
    assert DEFAULT_DATASET == "mnist-sample"
    assert find_local("mnist-sample") == builtin_datasets_folder() / "mnist-sample"


def test_builtin_sample_holds_5000_real_digits_500_per_class():
    dataset = load_dataset("mnist-sample", download=False, downloader=None)
    info = dataset_info("mnist-sample")

    assert dataset.train_images.shape == (4_000, 1, 28, 28)
    assert dataset.test_images.shape == (1_000, 1, 28, 28)
    assert (info.train_size, info.test_size) == (4_000, 1_000)
    assert dataset.num_classes == 10 and dataset.input_shape == (1, 28, 28)
    all_labels = np.concatenate([dataset.train_labels, dataset.test_labels])
    assert np.bincount(all_labels).tolist() == [500] * 10
    assert np.bincount(dataset.test_labels).tolist() == [100] * 10
    # Shuffled, so a slice taken for validation holds every digit.
    assert len(set(dataset.train_labels[-400:].tolist())) == 10
    # Real digits: dark background, ink in the middle, not noise.
    mean_image = dataset.train_images[:, 0].mean(axis=0)
    assert mean_image[0, 0] == 0 and mean_image[14, 14] > 100


def test_builtin_sample_has_no_image_in_both_training_and_test_sets():
    dataset = load_dataset("mnist-sample")
    digest = lambda image: hashlib.sha1(image.tobytes()).digest()  # noqa: E731
    train_digests = {digest(image) for image in dataset.train_images}
    assert not any(digest(image) in train_digests for image in dataset.test_images)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed "
                           "(apt-get install dataset-fashion-mnist)")
def test_reads_debians_real_fashion_mnist(tmp_path):
    dataset = load_dataset("fashion-mnist", DEBIAN_FASHION_MNIST, download=False,
                           cache_dir=tmp_path / "empty-cache")
    assert dataset.train_images.shape == (60_000, 1, 28, 28)
    assert dataset.test_images.shape == (10_000, 1, 28, 28)
    assert dataset.train_labels.shape == (60_000,) and dataset.test_labels.shape == (10_000,)
    assert dataset.train_labels.min() == 0 and dataset.train_labels.max() == 9
    assert np.bincount(dataset.test_labels).tolist() == [1_000] * 10
    assert dataset.class_names[9] == "Ankle boot"
