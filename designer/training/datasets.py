"""The one dataset cache: a dataset is read once per (name, folder) and kept for the next user.

Image folders (``config.dataset == "folder"``) are the exception: their decoded pictures
live in their own cache on disk (``designer.data.folder``), keyed by the folder's content
and the design's Input, and are memory-mapped from there; the folder is listed again for
every run, so a picture added or removed since is seen. ``dataset_for_run`` and
``describe_dataset`` are the one way to get a run's data or its facts, whichever kind it is.

The training process keeps what its last runs read (a sweep's variants, the side-by-side
pair and the next run of the dock all train on it without reading it again); in the
window's process the FC lab's probes share it with training that runs there (the thread
fallback). Only the ``KEEP`` most recently used datasets stay, so a person switching between
CIFAR-10 and MNIST does not pile up copies.

No torch here: datasets are numpy arrays (``designer.data``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

KEEP = 2


class DatasetCache:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._datasets: OrderedDict[tuple[str, str | None], object] = OrderedDict()

    def get(self, name: str, folder: str | None = None, *, download: bool = False, progress=None,
            should_cancel=None):
        """``designer.data.load_dataset`` once per (name, folder); raises what it raises.

        Reading happens outside the lock: a long download never blocks a reader of another
        dataset. Two threads asking for the same missing dataset may both read it; the first
        copy stored wins.
        """
        key = (name, folder or None)
        with self._lock:
            if key in self._datasets:
                self._datasets.move_to_end(key)
                return self._datasets[key]
        from designer.data import load_dataset

        dataset = load_dataset(name, folder, download=download, progress=progress, should_cancel=should_cancel)
        with self._lock:
            dataset = self._datasets.setdefault(key, dataset)
            self._datasets.move_to_end(key)
            while len(self._datasets) > self._keep:
                self._datasets.popitem(last=False)
        return dataset

    def put(self, dataset, folder: str | None = None) -> None:
        """Keep a dataset already in memory (a benchmark or a report that read it itself)."""
        with self._lock:
            self._datasets[(dataset.name, folder or None)] = dataset
            self._datasets.move_to_end((dataset.name, folder or None))
            while len(self._datasets) > self._keep:
                self._datasets.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._datasets.clear()


#: this process's cache
DATASETS = DatasetCache()


def cached_dataset(name: str, folder: str | None = None, *, download: bool = False, progress=None,
                   should_cancel=None):
    return DATASETS.get(name, folder, download=download, progress=progress, should_cancel=should_cancel)


def design_input_shape(design) -> tuple[int, int, int] | None:
    """The C×H×W of a design's Input block (a ``Graph`` or the file format's dict), None without one."""
    from designer.core import Graph
    from designer.core.fileformat import parse_document

    graph = design if isinstance(design, Graph) else parse_document(design)
    for block_id in graph.inputs():
        block = graph.block(block_id)
        if block.type.is_input:
            shape = block.type.output_shape(block.params, [])
            return tuple(int(size) for size in shape) if len(shape) == 3 else None
    return None


def _folder_of(config) -> str:
    from designer.data import DatasetError

    if not config.data_folder:
        raise DatasetError("an image folder needs its folder: --data-folder DIR (or “Folder of images…” in the "
                           "Training dock), holding one sub-folder of pictures per class")
    return config.data_folder


def _target(config, input_shape) -> tuple[int, int, int]:
    from designer.data import DatasetError
    from designer.data.image_decode import check_target

    if input_shape is None:
        raise DatasetError("the design has no Input block, so an image folder has no size to be read at")
    try:
        check_target(*input_shape, config.resize)
    except ValueError as error:
        raise DatasetError(f"image folder: {error}; set the Input block's channels to 1 (grey) or 3 (RGB)") from None
    return input_shape


def describe_dataset(config, input_shape=None):
    """The ``DatasetInfo`` a run with ``config`` would see, without decoding or downloading anything.

    An image folder takes its shape from the design's Input (``input_shape``: every picture
    is resized to it) and its classes from its sub-folders (listed, not decoded). Raises
    ``DatasetError`` with a message for a person.
    """
    from designer.data import FOLDER_DATASET, dataset_info

    if config.dataset != FOLDER_DATASET:
        return dataset_info(config.dataset)
    from designer.data.folder import describe_image_folder

    shape = _target(config, input_shape)
    return describe_image_folder(_folder_of(config), shape)


def dataset_for_run(config, input_shape=None, *, progress=None, decoding=None, loaded=None, should_cancel=None):
    """The data a run with ``config`` trains on; raises what the readers raise.

    Catalogue datasets come through this process's cache (``progress(done, total)``: a
    download's bytes). An image folder is read at ``input_shape`` (the design's Input) with
    the run's resize mode and seed (its test split, when it has no ``test/``):
    ``decoding(done, total)`` hears the listing and decoding, ``loaded(ImageFolderLoad)``
    what was read and skipped.
    """
    from designer.data import FOLDER_DATASET

    if config.dataset != FOLDER_DATASET:
        return cached_dataset(config.dataset, config.data_folder, download=config.download, progress=progress,
                              should_cancel=should_cancel)
    import dataclasses

    from designer.data.folder import load_image_folder

    channels, height, width = _target(config, input_shape)
    load = load_image_folder(_folder_of(config), channels=channels, height=height, width=width,
                             resize=config.resize, seed=config.seed, progress=decoding, should_cancel=should_cancel)
    if loaded is not None:
        loaded(load)
    how = "its decoded copy in the cache" if load.from_cache else f"{load.decoded:,} pictures decoded into the cache"
    return dataclasses.replace(load.dataset, origin=f"your image folder ({load.dataset.source}; {how})")


def dataset_for_model(model):
    """The data a trained model (``TrainedModel``) was trained on, for the FC lab's probes."""
    return dataset_for_run(model.config, design_input_shape(model.graph))


__all__ = ["DATASETS", "DatasetCache", "KEEP", "cached_dataset", "dataset_for_model", "dataset_for_run",
           "describe_dataset", "design_input_shape"]
