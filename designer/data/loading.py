"""Find a dataset on disk (or download it) and read it into a Dataset record.

Where data comes from, in order: the folder the person names; the per-user cache;
folders a distribution installs (Debian's dataset-fashion-mnist); else a download
into the cache. The built-in sample is read from resources/datasets/mnist-sample.
"""

from __future__ import annotations

import os
from pathlib import Path


from designer.data.catalogue import CIFAR10_ARCHIVE, DATASET_SPECS, DatasetSpec
from designer.data.cifar import batches_folder_in, read_cifar10
from designer.data.download import (CancelCheck, Downloader, ProgressCallback,
                                    download_verified)
from designer.data.errors import DatasetError
from designer.data.idx import read_idx_images, read_idx_labels
from designer.data.locations import builtin_datasets_folder, default_datasets_cache
from designer.data.records import Dataset, DatasetInfo

SAMPLE_NAME = "mnist-sample"
#: a base URL to download every dataset from instead of the public mirrors (an organisation's
#: own copy behind a firewall); files are looked for at <base>/<dataset name>/<file name>
MIRROR_VARIABLE = "NETWORK_DESIGNER_DATASET_MIRROR"


def dataset_mirrors(spec: DatasetSpec) -> tuple[str, ...]:
    """Base URLs to try for a dataset's files: the person's own mirror if set, else the public ones."""
    own = os.environ.get(MIRROR_VARIABLE, "").strip()
    if own and spec.mirrors:
        return (own.rstrip("/") + f"/{spec.info.name}/",)
    return spec.mirrors


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASET_SPECS[name]
    except KeyError:
        raise DatasetError(f"Unknown dataset {name!r}; choose one of "
                           f"{', '.join(DATASET_SPECS)}.") from None


def dataset_info(name: str) -> DatasetInfo:
    """Shape, classes and sizes of a dataset, without reading or downloading anything."""
    return _spec(name).info


def _cache_folder(spec: DatasetSpec, cache_dir: Path | None) -> Path:
    return Path(cache_dir or default_datasets_cache()) / spec.info.name


def _candidate_folders(spec: DatasetSpec, folder: Path | None,
                       cache_dir: Path | None) -> list[tuple[Path, str]]:
    """Where to look, in order, each with a description of that kind of place for a person."""
    candidates = [(Path(folder), "your folder")] if folder is not None else []
    if spec.builtin:
        return candidates + [(builtin_datasets_folder() / spec.info.name, "the built-in sample")]
    system = [(place, f"{spec.system_package} package" if spec.system_package else "a system folder")
              for place in spec.system_folders]
    return candidates + [(_cache_folder(spec, cache_dir), "the cache"), *system]


def _idx_file_in(folder: Path, filename: str) -> Path | None:
    # Accept the files as published (.gz) or already gunzipped.
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _complete_source_in(spec: DatasetSpec, place: Path) -> Path | None:
    """The folder or archive in `place` holding the whole dataset, or None."""
    if spec.file_format == "cifar":
        if place.is_file() and place.name.endswith((".tar.gz", ".tgz", ".tar")):
            return place  # the person pointed at the archive itself
        if (place / CIFAR10_ARCHIVE).is_file():
            return place / CIFAR10_ARCHIVE
        return batches_folder_in(place) if place.is_dir() else None
    if all(_idx_file_in(place, remote.filename) for remote in spec.files):
        return place
    return None


def _find_local_with_kind(spec: DatasetSpec, folder: Path | None,
                          cache_dir: Path | None) -> tuple[Path, str] | None:
    for place, kind in _candidate_folders(spec, folder, cache_dir):
        source = _complete_source_in(spec, place)
        if source is not None:
            return source, f"{kind} ({source})"
    return None


def find_local(name: str, folder: str | Path | None = None, *,
               cache_dir: str | Path | None = None) -> Path | None:
    """Where the whole dataset already lies on this computer (folder or archive), else None.

    Never touches the network, so the window can say "will download N MB" beforehand.
    """
    found = _find_local_with_kind(_spec(name), Path(folder) if folder else None,
                                  Path(cache_dir) if cache_dir else None)
    return found[0] if found else None


def describe_source(name: str, folder: str | Path | None = None, *,
                    cache_dir: str | Path | None = None) -> str:
    """Where ``load_dataset`` would take the data from now, in words; reads and downloads nothing.

    E.g. "Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist)", or
    "not on this computer: a download of 11.6 MB into the cache (~/.cache/…/mnist)".
    """
    spec = _spec(name)
    cache_dir = Path(cache_dir) if cache_dir else None
    found = _find_local_with_kind(spec, Path(folder) if folder else None, cache_dir)
    if found is not None:
        return found[1]
    if spec.mirrors:
        return (f"not on this computer: a download of {spec.info.download_bytes / 1e6:.1f} MB into the cache "
                f"({_cache_folder(spec, cache_dir)})")
    return "not on this computer"


def _advice(spec: DatasetSpec, target: Path, *, download: bool) -> str:
    if spec.builtin:
        return ("Reinstall the program, or regenerate the sample with "
                "tools/make_mnist_sample.py (see resources/datasets/README.md).")
    if spec.file_format == "cifar":
        options = [f"Place {CIFAR10_ARCHIVE} (or its extracted cifar-10-batches-py folder) in {target}"]
    else:
        options = [f"Place the four IDX files in {target}"]
    if spec.system_package:
        options.append(f"install {spec.system_package}")
    if not download and spec.mirrors:
        options.append("allow the download")
    options.append(f"choose the built-in sample ({SAMPLE_NAME})")
    return ", ".join(options[:-1]) + ", or " + options[-1] + "."


def _first_missing_file(spec: DatasetSpec, place: Path) -> str:
    for remote in spec.files:
        if spec.file_format == "cifar" or _idx_file_in(place, remote.filename) is None:
            return remote.filename
    return spec.files[0].filename


def _download_missing(spec: DatasetSpec, cache_folder: Path, advice: str,
                      downloader: Downloader | None, progress: ProgressCallback | None,
                      should_cancel: CancelCheck | None) -> None:
    # Files already in the cache are kept: an interrupted session need not start over.
    if spec.file_format == "cifar":
        missing = list(spec.files)
    else:
        missing = [remote for remote in spec.files
                   if _idx_file_in(cache_folder, remote.filename) is None]
    overall_total = sum(remote.size for remote in missing)
    done_before = 0
    for remote in missing:
        def file_progress(done: int, _file_total: int, offset: int = done_before) -> None:
            if progress is not None:
                progress(offset + done, max(overall_total, offset + done))

        download_verified(
            [mirror + remote.filename for mirror in dataset_mirrors(spec)],
            cache_folder / remote.filename, remote.md5,
            what=f"{spec.info.label}: {remote.filename}", advice=advice,
            downloader=downloader, progress=file_progress, should_cancel=should_cancel,
            expected_size=remote.size)
        done_before += remote.size


def _read_source(spec: DatasetSpec, source: Path):
    """The arrays, the class names and, per split, the files the images and labels came from."""
    if spec.file_format == "cifar":
        train_images, train_labels, test_images, test_labels, class_names = read_cifar10(
            source, spec.info.class_names)
        batches = f"{source.name} (data_batch_1-5)" if source.is_file() else "data_batch_1-5"
        test = f"{source.name} (test_batch)" if source.is_file() else "test_batch"
        files = {"training": (batches, batches), "test": (test, test)}
        return train_images, train_labels, test_images, test_labels, class_names, files
    train_images_file, train_labels_file, test_images_file, test_labels_file = (
        _idx_file_in(source, remote.filename) for remote in spec.files)
    files = {"training": (train_images_file, train_labels_file), "test": (test_images_file, test_labels_file)}
    return (read_idx_images(train_images_file), read_idx_labels(train_labels_file),
            read_idx_images(test_images_file), read_idx_labels(test_labels_file),
            spec.info.class_names, files)


def _remedy(source: Path, cache_folder: Path, what: str = "it") -> str:
    """What a person can do about a bad file (``what="them"``: files) in ``source``."""
    if source.is_relative_to(cache_folder):
        return (f"Delete {what} from {cache_folder} so {'it is' if what == 'it' else 'they are'} downloaded "
                f"again, or choose the built-in sample ({SAMPLE_NAME}).")
    folder_of_source = source if source.is_dir() else source.parent
    return (f"Replace {what} in {folder_of_source} with a good copy of the dataset's files, or choose the "
            f"built-in sample ({SAMPLE_NAME}).")


def _check_consistent(spec: DatasetSpec, source: Path, files: dict, cache_folder: Path, train_images,
                      train_labels, test_images, test_labels) -> None:
    """Counts, image size and label range, each refused with the file named and what to do."""
    info = spec.info
    where = source if source.is_dir() else source.parent
    for split, images, labels in (("training", train_images, train_labels),
                                  ("test", test_images, test_labels)):
        images_file, labels_file = (Path(name).name for name in files[split])
        if images.shape[0] == 0:
            # Nothing to train on, or a test accuracy of 0 / 0: refuse before any training.
            raise DatasetError(f"{info.label}: {images_file} in {where} holds no images; the {split} set "
                               f"needs at least one. {_remedy(source, cache_folder)}")
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{info.label}: {images_file} holds {images.shape[0]:,} {split} images but "
                               f"{labels_file} holds {labels.shape[0]:,} labels (in {where}); the two files "
                               f"do not belong together. {_remedy(source, cache_folder, 'them')}")
        if images.shape[1:] != info.input_shape:
            raise DatasetError(f"{info.label}: the {split} images in {images_file} (in {where}) are "
                               f"{'×'.join(map(str, images.shape[1:]))}, but {info.label} images are "
                               f"{'×'.join(map(str, info.input_shape))}: these are not {info.label}'s files. "
                               f"{_remedy(source, cache_folder, 'them')}")
        if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
            raise DatasetError(f"{info.label}: the {split} labels in {labels_file} (in {where}) run from "
                               f"{labels.min()} to {labels.max()}, but {info.label} has classes 0 to "
                               f"{info.num_classes - 1}: it is not {info.label}'s label file, or it is "
                               f"damaged. {_remedy(source, cache_folder)}")


def load_dataset(name: str, folder: str | Path | None = None, *, download: bool = True,
                 progress: ProgressCallback | None = None,
                 should_cancel: CancelCheck | None = None,
                 downloader: Downloader | None = None,
                 cache_dir: str | Path | None = None) -> Dataset:
    """Read a whole dataset into memory, downloading it into the cache if it is nowhere local.

    progress(done_bytes, total_bytes) is called during a download; should_cancel() is
    polled between chunks and a True stops it with DownloadCancelled. `cache_dir`
    replaces <user cache>/network-designer/datasets. Raises DatasetError with a message
    for a person on any failure.
    """
    spec = _spec(name)
    folder = Path(folder) if folder else None
    cache_dir = Path(cache_dir) if cache_dir else None
    cache_folder = _cache_folder(spec, cache_dir)
    primary_folder = folder or (builtin_datasets_folder() / spec.info.name if spec.builtin
                                else cache_folder)

    found = _find_local_with_kind(spec, folder, cache_dir)
    if found is None:
        advice = _advice(spec, primary_folder, download=download)
        if not download or not spec.mirrors:
            raise DatasetError(f"{spec.info.label}: {_first_missing_file(spec, primary_folder)} "
                               f"not found in {primary_folder}. {advice}")
        _download_missing(spec, cache_folder, advice, downloader, progress, should_cancel)
        source = _complete_source_in(spec, cache_folder)
        assert source is not None, "a download that succeeded must leave the files in the cache"
        origin = f"a download into the cache ({source})"
    else:
        source, origin = found

    try:
        (train_images, train_labels, test_images, test_labels, class_names,
         files) = _read_source(spec, source)
    except DatasetError as error:
        raise DatasetError(f"{spec.info.label}: {error} {_remedy(source, cache_folder)}") from error

    _check_consistent(spec, source, files, cache_folder, train_images, train_labels, test_images, test_labels)
    return Dataset(name=spec.info.name, train_images=train_images, train_labels=train_labels,
                   test_images=test_images, test_labels=test_labels,
                   class_names=tuple(class_names), source=str(source), origin=origin)
