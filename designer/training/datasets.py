"""The one dataset cache: a dataset is read once per (name, folder) and kept for the next user.

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


__all__ = ["DATASETS", "DatasetCache", "KEEP", "cached_dataset"]
