"""List an image folder: classes, image files, and what cannot be used — without decoding.

Layouts: ``DIR/<class>/…`` (a seeded stratified test split is made later), or
``DIR/train/<class>/…`` with an optional ``DIR/test/<class>/…``. Files below a class folder
are found at any depth. Every directory is read once per class (a symbolic link back to a
folder already read is skipped, so link loops end), each entry costs one ``stat``, and
progress and cancel are checked every few hundred entries: time grows linearly with the
number of files (plus sorting names within each folder).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from designer.data.errors import DatasetError
from designer.data.image_decode import IMAGE_SUFFIXES

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

TRAIN_FOLDER, TEST_FOLDER = "train", "test"
#: progress and cancel are checked after this many directory entries
_CHECK_EVERY = 256


class ListingCancelled(Exception):
    """should_cancel() said yes while the folder was being listed."""


def display_name(name: str | Path) -> str:
    """A file name as text a terminal or a label can show.

    Linux file names are bytes; Python hands undecodable ones over with lone surrogates,
    which print() refuses. Here they become U+FFFD instead.
    """
    return os.fsencode(str(name)).decode("utf-8", "replace")


@dataclass(frozen=True)
class SkippedImage:
    """One file left out, and why (for a person)."""

    path: str  # relative to the image folder, displayable
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.reason})"


@dataclass(frozen=True)
class ImageEntry:
    relative: str  # relative to the image folder, as the file system spells it (may hold surrogates)
    size: int
    modified_ns: int
    label: int
    from_test_folder: bool


@dataclass
class FolderListing:
    root: Path
    layout: str  # "classes" or "train-test"
    class_names: tuple[str, ...]  # displayable, in label order
    class_folders: tuple[str, ...]  # the folder names as the file system spells them
    entries: list[ImageEntry] = field(default_factory=list)  # training-folder entries first
    skipped: list[SkippedImage] = field(default_factory=list)
    ignored_files: int = 0  # files that are not PNG/JPEG/BMP/WebP by name (README.txt, .DS_Store)
    notes: list[str] = field(default_factory=list)
    has_test_folder: bool = False

    def content_key(self, *parts: object) -> str:
        """Hash of every entry's relative name, size and modification time, plus ``parts``.

        Names are hashed as bytes, so two folders differing only in undecodable names differ.
        """
        digest = hashlib.sha256()
        digest.update(repr((self.layout, self.class_folders, parts)).encode("utf-8", "surrogateescape"))
        for entry in self.entries:
            digest.update(os.fsencode(entry.relative))
            digest.update(f"\0{entry.size}\0{entry.modified_ns}\0{entry.label}\0"
                          f"{int(entry.from_test_folder)}\n".encode("ascii"))
        return digest.hexdigest()

    def class_counts(self, *, test_folder: bool | None = None) -> list[int]:
        counts = [0] * len(self.class_names)
        for entry in self.entries:
            if test_folder is None or entry.from_test_folder == test_folder:
                counts[entry.label] += 1
        return counts


def _hidden(name: str) -> bool:
    # Hidden files, editors' temporary files, macOS's ._ companions and the __MACOSX folder
    # its zip files carry: none of them is a picture or a class.
    return name.startswith(".") or name == "__MACOSX"


def _join(relative: str, name: str) -> str:
    return f"{relative}/{name}" if relative else name


def _subfolders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as scan:
            names = []
            for entry in scan:
                if _hidden(entry.name):
                    continue
                try:
                    if entry.is_dir():
                        names.append(entry.name)
                except OSError:
                    continue  # a link loop or a dead link among the classes: reported when walked
            return sorted(names)
    except PermissionError:
        raise DatasetError(f"image folder {display_name(folder)}: permission denied; make it readable") from None
    except OSError as error:
        raise DatasetError(f"image folder {display_name(folder)}: cannot be read ({error.strerror or error})") from None


class _Walker:
    """Walks class folders, appending to a listing, checking progress and cancel as it goes."""

    def __init__(self, listing: FolderListing, progress: ProgressCallback | None,
                 should_cancel: CancelCheck | None) -> None:
        self.listing = listing
        self.progress = progress
        self.should_cancel = should_cancel
        self.seen = 0

    def _tick(self) -> None:
        self.seen += 1
        if self.seen % _CHECK_EVERY == 0:
            if self.should_cancel is not None and self.should_cancel():
                raise ListingCancelled()
            if self.progress is not None:
                self.progress(len(self.listing.entries), 0)  # total 0: not known yet

    def walk_class(self, folder: Path, relative: str, label: int, from_test_folder: bool) -> None:
        listing = self.listing
        visited: set[tuple[int, int]] = set()
        pending = [(folder, relative)]
        while pending:
            directory, directory_relative = pending.pop()
            try:
                status = directory.stat()
            except OSError as error:
                listing.skipped.append(SkippedImage(display_name(directory_relative),
                                                    _os_reason(error, "folder")))
                continue
            if (status.st_dev, status.st_ino) in visited:
                listing.skipped.append(SkippedImage(display_name(directory_relative),
                                                    "a link to a folder already read (a link loop?)"))
                continue
            visited.add((status.st_dev, status.st_ino))
            try:
                with os.scandir(directory) as scan:
                    entries = sorted(scan, key=lambda item: item.name)
            except OSError as error:
                listing.skipped.append(SkippedImage(display_name(directory_relative) + "/",
                                                    _os_reason(error, "folder")))
                continue
            subfolders = []
            for entry in entries:
                self._tick()
                if _hidden(entry.name):
                    continue
                entry_relative = _join(directory_relative, entry.name)
                try:
                    is_folder = entry.is_dir()
                except OSError as error:
                    listing.skipped.append(SkippedImage(display_name(entry_relative), _os_reason(error, "entry")))
                    continue
                if is_folder:
                    subfolders.append((Path(entry.path), entry_relative))
                    continue
                self._add_file(entry, entry_relative, label, from_test_folder)
            # Reversed so the stack pops sub-folders in name order: a stable entry order.
            pending.extend(reversed(subfolders))

    def _add_file(self, entry: os.DirEntry, relative: str, label: int, from_test_folder: bool) -> None:
        listing = self.listing
        if not entry.name.lower().endswith(IMAGE_SUFFIXES):
            listing.ignored_files += 1
            return
        try:
            status = entry.stat()  # follows a symbolic link to the image it names
        except OSError as error:
            listing.skipped.append(SkippedImage(display_name(relative), _os_reason(error, "file")))
            return
        if not stat.S_ISREG(status.st_mode):
            # A FIFO or device named .png would block or never end when read.
            listing.skipped.append(SkippedImage(display_name(relative), "not a regular file"))
            return
        if status.st_size == 0:
            listing.skipped.append(SkippedImage(display_name(relative), "empty file (0 bytes)"))
            return
        listing.entries.append(ImageEntry(relative, int(status.st_size), int(status.st_mtime_ns),
                                          label, from_test_folder))


def _os_reason(error: OSError, what: str) -> str:
    import errno

    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT:
        return "broken symbolic link" if what != "folder" else "vanished while being read"
    if isinstance(error, PermissionError):
        return "permission denied"
    return f"cannot be read ({error.strerror or error})"


def list_image_folder(folder: str | Path, *, progress: ProgressCallback | None = None,
                      should_cancel: CancelCheck | None = None) -> FolderListing:
    """Classes and image files of ``folder``; raises DatasetError when it is not an image folder.

    progress(found, 0) is called every few hundred entries (0: the total is not known yet);
    should_cancel() is polled as often and a True raises ListingCancelled.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise DatasetError(f"image folder {display_name(root)} not found; name a folder holding one sub-folder "
                           f"of images per class")
    if not root.is_dir():
        raise DatasetError(f"{display_name(root)} is a file; name the folder holding one sub-folder of images per class")
    root = root.resolve()
    top = _subfolders(root)
    if TRAIN_FOLDER in top:
        layout = "train-test"
        train_classes = _subfolders(root / TRAIN_FOLDER)
        has_test = TEST_FOLDER in top
        test_classes = _subfolders(root / TEST_FOLDER) if has_test else []
        class_folders = sorted(set(train_classes) | set(test_classes))
        others = [name for name in top if name not in (TRAIN_FOLDER, TEST_FOLDER)]
    else:
        layout, has_test, train_classes, test_classes = "classes", False, top, []
        class_folders, others = top, []
    listing = FolderListing(root=root, layout=layout, class_names=tuple(display_name(name) for name in class_folders),
                            class_folders=tuple(class_folders), has_test_folder=has_test)
    if others:
        shown = ", ".join(display_name(name) for name in others[:5])
        listing.notes.append(f"with a train/ folder present only train/ and test/ are read; "
                             f"ignored {shown}{' …' if len(others) > 5 else ''}")
    if len(class_folders) < 2:
        found = ", ".join(listing.class_names) or "none"
        where = display_name(root / TRAIN_FOLDER if layout == "train-test" else root)
        raise DatasetError(f"image folder {display_name(root)}: found {len(class_folders)} class folder"
                           f"{'s' if len(class_folders) != 1 else ''} ({found}) in {where}; "
                           f"training needs at least two, one sub-folder of images per class")
    walker = _Walker(listing, progress, should_cancel)
    labels = {name: label for label, name in enumerate(class_folders)}
    train_root, train_prefix = (root / TRAIN_FOLDER, TRAIN_FOLDER + "/") if layout == "train-test" else (root, "")
    for name in train_classes:
        walker.walk_class(train_root / name, train_prefix + name, labels[name], False)
    for name in test_classes:
        walker.walk_class(root / TEST_FOLDER / name, f"{TEST_FOLDER}/{name}", labels[name], True)
    if progress is not None:
        progress(len(listing.entries), 0)
    return listing


def count_message(count: int, what: str) -> str:
    """'1 file', '3 files', '2 classes'."""
    if count == 1:
        return f"1 {what}"
    return f"{count:,} {what}{'es' if what.endswith('s') else 's'}"


def skipped_message(skipped: list[SkippedImage] | tuple[SkippedImage, ...], shown: int = 3) -> str:
    """'skipped 12 files: a.png (empty file (0 bytes)), b.png (…), c.png (…) and 9 more'."""
    if not skipped:
        return ""
    listed = ", ".join(str(item) for item in skipped[:shown])
    more = f" and {len(skipped) - shown:,} more" if len(skipped) > shown else ""
    return f"skipped {count_message(len(skipped), 'file')} that cannot be used: {listed}{more}"


def unused_files_message(ignored: int) -> str:
    return (f"ignored {count_message(ignored, 'file')} not named like an image "
            f"({', '.join(IMAGE_SUFFIXES)})") if ignored else ""
