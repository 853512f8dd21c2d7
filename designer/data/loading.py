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
                       cache_dir: Path | None) -> list[Path]:
    candidates = [Path(folder)] if folder is not None else []
    if spec.builtin:
        return candidates + [builtin_datasets_folder() / spec.info.name]
    return candidates + [_cache_folder(spec, cache_dir), *spec.system_folders]


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


def find_local(name: str, folder: str | Path | None = None, *,
               cache_dir: str | Path | None = None) -> Path | None:
    """Where the whole dataset already lies on this computer (folder or archive), else None.

    Never touches the network, so the window can say "will download N MB" beforehand.
    """
    spec = _spec(name)
    for place in _candidate_folders(spec, Path(folder) if folder else None,
                                    Path(cache_dir) if cache_dir else None):
        source = _complete_source_in(spec, place)
        if source is not None:
            return source
    return None


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
    if spec.file_format == "cifar":
        return read_cifar10(source, spec.info.class_names)
    train_images_file, train_labels_file, test_images_file, test_labels_file = (
        _idx_file_in(source, remote.filename) for remote in spec.files)
    return (read_idx_images(train_images_file), read_idx_labels(train_labels_file),
            read_idx_images(test_images_file), read_idx_labels(test_labels_file),
            spec.info.class_names)


def _check_consistent(spec: DatasetSpec, source: Path, train_images, train_labels,
                      test_images, test_labels) -> None:
    info = spec.info
    for split, images, labels in (("training", train_images, train_labels),
                                  ("test", test_images, test_labels)):
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{info.label}: the {split} set in {source} has "
                               f"{images.shape[0]:,} images but {labels.shape[0]:,} labels; "
                               f"the image and label files do not belong together.")
        if images.shape[1:] != info.input_shape:
            raise DatasetError(f"{info.label}: the {split} images in {source} are "
                               f"{'×'.join(map(str, images.shape[1:]))}, expected "
                               f"{'×'.join(map(str, info.input_shape))}.")
        if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
            raise DatasetError(f"{info.label}: the {split} labels in {source} run from "
                               f"{labels.min()} to {labels.max()}, expected 0 to "
                               f"{info.num_classes - 1}.")


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

    source = find_local(name, folder, cache_dir=cache_dir)
    if source is None:
        advice = _advice(spec, primary_folder, download=download)
        if not download or not spec.mirrors:
            raise DatasetError(f"{spec.info.label}: {_first_missing_file(spec, primary_folder)} "
                               f"not found in {primary_folder}. {advice}")
        _download_missing(spec, cache_folder, advice, downloader, progress, should_cancel)
        source = _complete_source_in(spec, cache_folder)
        assert source is not None, "a download that succeeded must leave the files in the cache"

    try:
        train_images, train_labels, test_images, test_labels, class_names = _read_source(spec, source)
    except DatasetError as error:
        if source.is_relative_to(cache_folder):
            remedy = (f"Delete it from {cache_folder} so it is downloaded again, or choose "
                      f"the built-in sample ({SAMPLE_NAME}).")
        else:
            folder_of_source = source if source.is_dir() else source.parent
            remedy = (f"Replace it in {folder_of_source} with a good copy, or choose the "
                      f"built-in sample ({SAMPLE_NAME}).")
        raise DatasetError(f"{spec.info.label}: {error} {remedy}") from error

    _check_consistent(spec, source, train_images, train_labels, test_images, test_labels)
    return Dataset(name=spec.info.name, train_images=train_images, train_labels=train_labels,
                   test_images=test_images, test_labels=test_labels,
                   class_names=tuple(class_names), source=str(source))
