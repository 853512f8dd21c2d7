"""Datasets for training: MNIST, Fashion-MNIST, CIFAR-10 and a built-in MNIST sample.

No Qt and no torch here: data is read into numpy arrays (uint8 images N×C×H×W, int64
labels) that the training engine turns into tensors once.
"""

from designer.data.catalogue import DATASET_SPECS
from designer.data.download import urllib_downloader
from designer.data.errors import DatasetError, DownloadCancelled
from designer.data.loading import dataset_info, describe_source, find_local, load_dataset
from designer.data.locations import default_datasets_cache
from designer.data.records import Dataset, DatasetInfo

DATASET_NAMES: tuple[str, ...] = tuple(DATASET_SPECS)
DEFAULT_DATASET = "mnist-sample"
#: a folder of the person's own pictures (``designer.data.folder``; needs a folder and the design's Input)
FOLDER_DATASET = "folder"
#: what a run may train on: the catalogue's datasets and an image folder
TRAINING_DATASETS: tuple[str, ...] = DATASET_NAMES + (FOLDER_DATASET,)

__all__ = [
    "DATASET_NAMES", "DEFAULT_DATASET", "FOLDER_DATASET", "TRAINING_DATASETS", "Dataset", "DatasetError", "DatasetInfo",
    "DownloadCancelled", "dataset_info", "describe_source", "default_datasets_cache", "find_local",
    "load_dataset", "urllib_downloader",
]
