"""The datasets the program knows: their shapes, files, checksums and mirrors.

Checksums and sizes are the ones published for the original files (the same values
torchvision checks). They are only applied to files this program downloads: copies
that arrive another way (Debian's package recompresses the gz files, a person may
unzip them) are judged by their content when read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.data.records import DatasetInfo


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    md5: str
    size: int  # bytes, for an overall progress figure before the server says


@dataclass(frozen=True)
class DatasetSpec:
    info: DatasetInfo
    file_format: str  # "idx" or "cifar"
    files: tuple[RemoteFile, ...]  # IDX order: train images, train labels, test images, test labels
    mirrors: tuple[str, ...] = ()  # base URLs, tried in order; empty: never downloaded
    system_folders: tuple[Path, ...] = ()  # read-only places a distribution installs the files
    system_package: str = ""  # the package that installs them there, for messages
    builtin: bool = False  # shipped in resources/datasets/<name>/


DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")

IDX_FILENAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"

DATASET_SPECS: dict[str, DatasetSpec] = {
    "mnist-sample": DatasetSpec(
        info=DatasetInfo("mnist-sample", "MNIST sample", "5,000 real MNIST digits built into the program",
                         (1, 28, 28), DIGIT_NAMES, train_size=4_000, test_size=1_000,
                         download_bytes=0),
        file_format="idx",
        files=tuple(RemoteFile(filename, md5="", size=0) for filename in IDX_FILENAMES),
        builtin=True,
    ),
    "mnist": DatasetSpec(
        info=DatasetInfo("mnist", "MNIST", "70,000 handwritten digits", (1, 28, 28), DIGIT_NAMES,
                         train_size=60_000, test_size=10_000, download_bytes=11_594_722),
        file_format="idx",
        files=(
            RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
            RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
            RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
        ),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    ),
    "fashion-mnist": DatasetSpec(
        info=DatasetInfo("fashion-mnist", "Fashion-MNIST", "70,000 grey images of clothing",
                         (1, 28, 28), FASHION_NAMES, train_size=60_000, test_size=10_000,
                         download_bytes=30_878_645),
        file_format="idx",
        files=(
            RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
            RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29_515),
            RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4_422_102),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5_148),
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        # Debian's dataset-fashion-mnist package.
        system_folders=(Path("/usr/share/datasets/fashion-mnist"),),
        system_package="Debian's dataset-fashion-mnist",
    ),
    "cifar10": DatasetSpec(
        info=DatasetInfo("cifar10", "CIFAR-10", "60,000 small colour photos", (3, 32, 32),
                         CIFAR10_NAMES, train_size=50_000, test_size=10_000,
                         download_bytes=170_498_071),
        file_format="cifar",
        files=(RemoteFile(CIFAR10_ARCHIVE, "c58f30108f718f92721af3b95e74349a", 170_498_071),),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
    ),
}
