"""Image-folder datasets: a person's own pictures, decoded once into a uint8 cache.

``load_image_folder(DIR, channels=…, height=…, width=…)`` lists DIR (see
``folder_listing``: one sub-folder per class, or ``train/`` and ``test/`` splits), decodes
every image in parallel exactly as ``image_decode.decode_image`` does (the same function
``predict`` uses), and keeps the result as memory-mapped ``.npy`` files in
``<datasets cache>/image-folders/<key>/``. The key hashes every file's relative name, size
and modification time together with the target shape and resize mode, so a second run
with the same folder and design reads the cache at once, and any change to either
decodes again. A cache folder is written under a temporary name and renamed into place
only when complete: a killed decode leaves nothing that looks like a cache.

numpy and Pillow only (no torch, no Qt). Returns the same ``Dataset`` record as the other
readers, plus what was skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import (FIRST_COMPLETED, BrokenExecutor, Executor, ProcessPoolExecutor,
                                ThreadPoolExecutor, wait)
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from designer.core.atomic import write_text_atomically
from designer.data import FOLDER_DATASET
from designer.data.errors import DatasetError, DownloadCancelled
from designer.data.folder_listing import (CancelCheck, FolderListing, ListingCancelled,
                                          ProgressCallback, SkippedImage, count_message, display_name,
                                          list_image_folder, skipped_message, unused_files_message)
from designer.data.image_decode import DEFAULT_RESIZE, FORMATS_TEXT, ImageProblem, check_target, decode_image
from designer.data.locations import default_datasets_cache
from designer.data.records import Dataset, DatasetInfo
from designer.data.splits import stratified_split

DEFAULT_TEST_FRACTION = 0.2
CACHE_SUBFOLDER = "image-folders"
CACHE_VERSION = 1
POOLS = ("thread", "process")
#: measured with tests/benchmarks/bench_datasets.py on 2 cores (see README)
DEFAULT_POOL = "thread"
_INFO_FILE = "info.json"
_POLL_SECONDS = 0.05


class DecodingCancelled(DownloadCancelled):
    """The person cancelled while the folder was being listed or decoded.

    A DownloadCancelled, so code that already treats a cancelled download as "stopped on
    request while getting the dataset" treats this the same way.
    """


@dataclass(frozen=True)
class ImageFolderLoad:
    dataset: Dataset
    skipped: tuple[SkippedImage, ...]  # unreadable files, in listing order
    ignored_files: int  # files whose names are not images (README.txt, …)
    notes: tuple[str, ...]
    from_cache: bool
    decoded: int  # images decoded by this call: 0 when read from the cache
    cache_folder: Path | None  # None when the cache could not be written

    def message(self) -> str:
        """One paragraph for a person: what was read, and what was left out."""
        dataset = self.dataset
        channels, height, width = dataset.input_shape
        parts = [f"{display_name(dataset.source)}: {count_message(dataset.num_classes, 'class')} "
                 f"({_names_excerpt(dataset.class_names)}), "
                 f"{dataset.train_images.shape[0]:,} training and {dataset.test_images.shape[0]:,} test images "
                 f"as {'grey' if channels == 1 else 'RGB'} {height}×{width}"
                 f"{'; read from the cache' if self.from_cache else ''}"]
        parts += [text for text in (skipped_message(self.skipped), unused_files_message(self.ignored_files))
                  if text]
        parts += list(self.notes)
        return "; ".join(parts) + "."


def _names_excerpt(names: tuple[str, ...], shown: int = 6) -> str:
    text = ", ".join(names[:shown])
    return text + (f", … ({len(names) - shown} more)" if len(names) > shown else "")


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


# ---------------------------------------------------------------- decoding in parallel

def _decode_rows(images: np.ndarray, rows: list[int], paths: list[str], target: tuple,
                 cancelled: threading.Event | None = None) -> list[tuple[int, str]]:
    channels, height, width, resize = target
    problems = []
    for row, path in zip(rows, paths):
        if cancelled is not None and cancelled.is_set():
            break
        try:
            images[row] = decode_image(path, channels, height, width, resize)
        except ImageProblem as problem:
            problems.append((row, str(problem)))
        except Exception as error:  # noqa: BLE001 - one strange file must not end the whole decode
            problems.append((row, f"cannot be decoded ({type(error).__name__}: {str(error)[:80]})"))
    return problems


def _decode_rows_into_file(array_file: str, rows: list[int], paths: list[str],
                           target: tuple) -> list[tuple[int, str]]:
    """In a worker process: the rows land in the shared memory-mapped file, only problems return."""
    images = np.load(array_file, mmap_mode="r+")
    try:
        return _decode_rows(images, rows, paths, target)
    finally:
        images.flush()
        del images


def _decode_all(images: np.ndarray, array_file: Path | None, paths: list[str], target: tuple, *,
                workers: int, pool: str, progress: ProgressCallback | None,
                should_cancel: CancelCheck | None) -> dict[int, str]:
    """Decode paths[i] into images[i]; returns {row: reason} for the files that failed."""
    total = len(paths)
    chunk = max(1, min(64, total // (workers * 8) or 1))
    cancelled = threading.Event()
    use_processes = pool == "process" and array_file is not None and workers > 1
    executor: Executor
    if use_processes:
        import multiprocessing

        # spawn: this may run inside a training process that holds torch's threads, which fork copies badly.
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        executor = ThreadPoolExecutor(workers, thread_name_prefix="decode")
    problems: dict[int, str] = {}
    done = 0
    starts = iter(range(0, total, chunk))
    pending: set = set()

    def submit(start: int) -> None:
        rows = list(range(start, min(total, start + chunk)))
        chunk_paths = paths[start:start + chunk]
        if use_processes:
            future = executor.submit(_decode_rows_into_file, str(array_file), rows, chunk_paths, target)
        else:
            future = executor.submit(_decode_rows, images, rows, chunk_paths, target, cancelled)
        future.rows = len(rows)
        pending.add(future)

    try:
        # A bounded window of chunks in flight: waiting costs the same per chunk however many
        # files there are, and a cancel has little queued work to drop.
        for start in starts:
            submit(start)
            if len(pending) >= workers * 4:
                break
        while pending:
            if should_cancel is not None and should_cancel():
                cancelled.set()
                raise DecodingCancelled("stopped on request while decoding the image folder")
            finished, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                problems.update(future.result())
                done += future.rows
                next_start = next(starts, None)
                if next_start is not None:
                    submit(next_start)
            if finished and progress is not None:
                progress(done, total)
    except BrokenExecutor:
        raise DatasetError("a process decoding the images ended abruptly (out of memory?); try again, "
                           "or decode with threads") from None
    finally:
        cancelled.set()
        executor.shutdown(wait=True, cancel_futures=True)
    return problems


# ---------------------------------------------------------------- the cache

def _cache_root(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir) if cache_dir else default_datasets_cache() / CACHE_SUBFOLDER


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else
    return True


def _remove_abandoned_temporaries(cache_root: Path) -> None:
    """Temporary folders of decodes whose process is gone (killed, crashed) are deleted."""
    try:
        candidates = [path for path in cache_root.iterdir() if path.name.startswith(".") and path.name.endswith(".tmp")]
    except OSError:
        return
    for path in candidates:
        parts = path.name.split(".")
        try:
            pid = int(parts[2])
        except (IndexError, ValueError):
            continue
        if not _process_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _read_cache(folder: Path, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict] | None:
    """The cached arrays and info, or None if there is no complete cache for ``key``."""
    try:
        info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
        if info.get("version") != CACHE_VERSION or info.get("key") != key:
            return None
        images = np.load(folder / "images.npy", mmap_mode="r")
        labels = np.load(folder / "labels.npy")
        from_test = np.load(folder / "from_test_folder.npy")
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    count = info.get("count")
    if (images.dtype != np.uint8 or images.shape != (count, *info.get("shape", ()))
            or labels.shape != (count,) or from_test.shape != (count,) or labels.dtype != np.int64):
        return None
    return images, labels, from_test, info


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


def _compact(temporary: Path, images: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """A new images.npy holding only the rows in ``keep``, copied in slices (never all in memory)."""
    compacted = np.lib.format.open_memmap(temporary / "kept.npy", mode="w+", dtype=np.uint8,
                                          shape=(keep.shape[0], *images.shape[1:]))
    step = 4096
    for start in range(0, keep.shape[0], step):
        compacted[start:start + step] = images[keep[start:start + step]]
    compacted.flush()
    del compacted
    os.replace(temporary / "kept.npy", temporary / "images.npy")
    return np.load(temporary / "images.npy", mmap_mode="r")


def _remove_older_versions(cache_root: Path, key: str, source: str, target: list) -> None:
    """The same folder decoded for the same target before it changed: that cache is dead weight."""
    try:
        folders = [path for path in cache_root.iterdir() if not path.name.startswith(".") and path.name != key]
    except OSError:
        return
    for folder in folders:
        try:
            info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("source") == source and info.get("target") == target:
            shutil.rmtree(folder, ignore_errors=True)


def _decode_into_cache(listing: FolderListing, key: str, target: tuple, cache_root: Path, *,
                       workers: int, pool: str, progress: ProgressCallback | None,
                       should_cancel: CancelCheck | None, notes: list[str]):
    """Decode every listed image; returns (images, labels, from_test, skipped, cache folder or None)."""
    entries = listing.entries
    channels, height, width, _ = target
    shape = (len(entries), channels, height, width)
    paths = [str(listing.root / entry.relative) for entry in entries]
    labels = np.fromiter((entry.label for entry in entries), dtype=np.int64, count=len(entries))
    from_test = np.fromiter((entry.from_test_folder for entry in entries), dtype=bool, count=len(entries))
    temporary: Path | None = None
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_temporaries(cache_root)
        temporary = cache_root / f".{key[:16]}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        temporary.mkdir()
        images = np.lib.format.open_memmap(temporary / "images.npy", mode="w+", dtype=np.uint8, shape=shape)
    except OSError as error:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        temporary = None
        notes.append(f"the cache folder {display_name(cache_root)} cannot be written ({error.strerror or error}), so "
                     f"the images were decoded into memory and will be decoded again next time")
        images = np.empty(shape, dtype=np.uint8)
    try:
        problems = _decode_all(images, temporary / "images.npy" if temporary else None, paths, target,
                               workers=workers, pool=pool, progress=progress, should_cancel=should_cancel)
        keep = np.array([row for row in range(len(entries)) if row not in problems], dtype=np.int64)
        skipped = [SkippedImage(display_name(entries[row].relative), problems[row]) for row in sorted(problems)]
        labels, from_test = labels[keep], from_test[keep]
        if temporary is None:
            return (images[keep] if problems else images), labels, from_test, skipped, None
        images.flush()
        if problems:
            images = _compact(temporary, images, keep)
        del images
        _fsync_file(temporary / "images.npy")
        _write_npy(temporary / "labels.npy", labels)
        _write_npy(temporary / "from_test_folder.npy", from_test)
        info = {"format": "network-designer/image-folder-cache", "version": CACHE_VERSION, "key": key,
                "source": str(listing.root), "target": list(target), "count": int(keep.shape[0]),
                "shape": [channels, height, width], "class_names": list(listing.class_names),
                "skipped": [[item.path, item.reason] for item in skipped]}
        write_text_atomically(temporary / _INFO_FILE, json.dumps(info, ensure_ascii=False))
        final = cache_root / key
        try:
            os.rename(temporary, final)  # the moment the cache comes into being, whole
        except OSError:
            if _read_cache(final, key) is None:  # another process finished first, or something broke
                raise
            shutil.rmtree(temporary, ignore_errors=True)
        temporary = None
        _remove_older_versions(cache_root, key, str(listing.root), list(target))
        cached = _read_cache(final, key)
        if cached is None:
            raise DatasetError(f"the image cache just written to {final} cannot be read back")
        return cached[0], cached[1], cached[2], skipped, final
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _check_classes(listing: FolderListing, labels: np.ndarray, from_test: np.ndarray,
                   skipped: list[SkippedImage], what: str) -> None:
    counts = np.bincount(labels[~from_test], minlength=len(listing.class_names))
    empty = [listing.class_names[label] for label in np.flatnonzero(counts == 0)]
    if not empty:
        return
    where = "train/" if listing.layout == "train-test" else "its folder"
    detail = f"; {skipped_message(skipped)}" if skipped else ""
    raise DatasetError(f"image folder {display_name(listing.root)}: class{'es' if len(empty) > 1 else ''} "
                       f"{', '.join(repr(name) for name in empty[:5])}{' …' if len(empty) > 5 else ''} "
                       f"{'have' if len(empty) > 1 else 'has'} no {what} in {where}; "
                       f"add {FORMATS_TEXT} images or remove the folder{detail}")



def _split(listing: FolderListing, images: np.ndarray, labels: np.ndarray, from_test: np.ndarray,
           test_fraction: float, seed: int):
    if listing.has_test_folder:
        # Training entries come first, so both splits are views of the memory-mapped file.
        train_count = int(np.count_nonzero(~from_test))
        return (images[:train_count], labels[:train_count], images[train_count:], labels[train_count:])
    train_index, test_index = stratified_split(labels, test_fraction, seed)
    return images[train_index], labels[train_index], images[test_index], labels[test_index]


def load_image_folder(folder: str | Path, *, channels: int, height: int, width: int,
                      resize: str = DEFAULT_RESIZE, test_fraction: float = DEFAULT_TEST_FRACTION,
                      seed: int = 0, cache_dir: str | Path | None = None,
                      progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None,
                      workers: int | None = None, pool: str = DEFAULT_POOL) -> ImageFolderLoad:
    """Read an image folder as a Dataset of uint8 channels×height×width images.

    ``test_fraction`` of every class (seeded by ``seed``) becomes the test set unless the
    folder has its own ``test/``. progress(done, total) is called while listing (total 0:
    not known yet) and while decoding; should_cancel() is polled meanwhile and a True
    raises DecodingCancelled. ``cache_dir`` replaces <datasets cache>/image-folders.
    Raises DatasetError with a message for a person when the folder cannot be used.
    """
    try:
        check_target(channels, height, width, resize)
    except ValueError as error:
        raise DatasetError(f"image folder: {error}") from None
    if not 0 <= test_fraction < 1:
        raise DatasetError(f"image folder: the test fraction must be in [0, 1), not {test_fraction!r}")
    if pool not in POOLS:
        raise DatasetError(f"image folder: the decoding pool must be one of {', '.join(POOLS)}, not {pool!r}")
    try:
        listing = list_image_folder(folder, progress=progress, should_cancel=should_cancel)
    except ListingCancelled:
        raise DecodingCancelled("stopped on request while listing the image folder") from None
    listed_labels = np.fromiter((entry.label for entry in listing.entries), dtype=np.int64,
                                count=len(listing.entries))
    listed_from_test = np.fromiter((entry.from_test_folder for entry in listing.entries), dtype=bool,
                                   count=len(listing.entries))
    _check_classes(listing, listed_labels, listed_from_test, listing.skipped, "training images")
    target = (channels, height, width, resize)
    key = listing.content_key(CACHE_VERSION, target)
    cache_root = _cache_root(cache_dir)
    notes = list(listing.notes)
    cached = _read_cache(cache_root / key, key)
    if cached is not None:
        images, labels, from_test, info = cached
        decode_skipped = [SkippedImage(str(path), str(reason)) for path, reason in info.get("skipped", [])]
        cache_folder, decoded = cache_root / key, 0
        if progress is not None:
            progress(images.shape[0], images.shape[0])
    else:
        images, labels, from_test, decode_skipped, cache_folder = _decode_into_cache(
            listing, key, target, cache_root, workers=workers or default_workers(), pool=pool,
            progress=progress, should_cancel=should_cancel, notes=notes)
        decoded = len(listing.entries)
    skipped = listing.skipped + decode_skipped
    _check_classes(listing, labels, from_test, skipped, "readable training images")
    train_images, train_labels, test_images, test_labels = _split(listing, images, labels, from_test,
                                                                  test_fraction, seed)
    dataset = Dataset(name=FOLDER_DATASET, train_images=train_images, train_labels=train_labels,
                      test_images=test_images, test_labels=test_labels,
                      class_names=listing.class_names, source=str(listing.root))
    return ImageFolderLoad(dataset=dataset, skipped=tuple(skipped), ignored_files=listing.ignored_files,
                           notes=tuple(notes), from_cache=cached is not None, decoded=decoded,
                           cache_folder=cache_folder)


def describe_image_folder(folder: str | Path, input_shape: tuple[int, int, int], *,
                          test_fraction: float = DEFAULT_TEST_FRACTION) -> DatasetInfo:
    """What a run would see, from a listing only (nothing decoded): for checking a design first.

    Sizes count image files; a few may turn out unreadable when decoded.
    """
    listing = list_image_folder(folder)
    if listing.has_test_folder:
        test_size = sum(listing.class_counts(test_folder=True))
        train_size = sum(listing.class_counts(test_folder=False))
    else:
        counts = listing.class_counts()
        test_size = sum(int(round(test_fraction * count)) for count in counts)
        train_size = sum(counts) - test_size
    return DatasetInfo(name=FOLDER_DATASET, label=f"image folder {display_name(listing.root.name)}",
                       description=f"{sum(listing.class_counts()):,} images in {display_name(listing.root)}",
                       input_shape=tuple(input_shape), class_names=listing.class_names,
                       train_size=train_size, test_size=test_size, download_bytes=0)


_GREY_MODES = ("1", "L", "LA", "La", "I", "F") + ("I;16", "I;16B", "I;16L", "I;16N")


def suggest_input_shape(folder: str | Path, *, largest: int = 64, sample: int = 32) -> tuple[int, int, int]:
    """An Input shape for a folder ("Adapt input to dataset"), from a few images' headers only.

    Grey (1 channel) when every sampled image is grey, else RGB; square, the median shorter
    side of the sample rounded down to a multiple of 4 (two 2×2 poolings divide it), at
    least 8 and at most ``largest`` — images are shrunk to fit, and 64×64 trains on a CPU.
    """
    from PIL import Image

    listing = list_image_folder(folder)
    entries = listing.entries
    step = max(1, len(entries) // sample)
    modes, sides = [], []
    for entry in entries[::step][:sample]:
        try:
            with Image.open(listing.root / entry.relative) as image:  # reads the header, not the pixels
                modes.append(image.mode)
                sides.append(min(image.size))
        except Exception:  # noqa: BLE001 - an unreadable file says nothing about the others
            continue
    if not sides:
        return (3, largest, largest)
    channels = 1 if all(mode in _GREY_MODES for mode in modes) else 3
    side = int(np.median(sides))
    side = max(8, min(largest, side - side % 4))
    return (channels, side, side)
