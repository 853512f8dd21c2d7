"""Atomic file writes: a person's file is either the old one or the new one, never half.

Every file the program writes goes through here (designs, histories, checkpoints, CSV).
The data goes to a hidden temporary ``.NAME.XXXXXXXX.tmp`` beside the target, is flushed
and fsynced, then renamed over the target. A process killed mid-write leaves that
temporary behind; the next save or open of the same file removes such leftovers (only
ours, only for that file, and only when no live process is still writing them).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterator

try:  # POSIX: a writer holds a lock on its temporary, so a cleaner can tell it is alive
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TEMPORARY_SUFFIX = ".tmp"
#: A temporary younger than this is never removed, lock or not: it may be a save that has
#: just created its file and not yet locked it (or, without locks, one still writing).
STALE_AFTER_SECONDS = 10.0
#: Without file locks (Windows) age alone must tell a dead save from a slow one.
STALE_AFTER_SECONDS_WITHOUT_LOCKS = 15 * 60.0


def _temporary_pattern(path: Path) -> re.Pattern:
    # Exactly what tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp") makes: its random
    # part is 8 characters of [a-z0-9_]. Anything else beside the file is not ours.
    return re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX))


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle; when the block ends normally the data replaces ``path``.

    If the block raises (or the process dies), ``path`` is untouched; the temporary is
    removed here, or by the next save/open when the process was killed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        if fcntl is not None:
            # Held until the descriptor closes (or the process dies): tells remove_stale_temporaries
            # that this temporary belongs to a save still running.
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # mkstemp creates the file private (0600); give it the old file's mode, or what a plain
        # open() would have given, so saving through us does not change who can read the file.
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(descriptor, "wb") as handle:
            descriptor = -1  # the handle owns it now
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            # Renamed while still open (and locked): a cleaner never sees it unlocked and present.
            os.replace(temporary, path)
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush and fsync, then ``os.replace``.

    The temporary file lives beside the target so the final rename never crosses a file
    system (which would make it a copy, not an atomic rename).
    """
    with atomic_writer(Path(path)) as handle:
        handle.write(data)


def write_text_atomically(path: Path, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def remove_stale_temporaries(path: Path, now: float | None = None) -> list[Path]:
    """Remove temporaries a killed save of ``path`` left beside it; returns what was removed.

    Only regular files named exactly as ``atomic_writer`` names them for this file, older than
    a few seconds and (where the system has file locks) not locked by a running save. Never
    raises: a folder we may not write to just keeps its leftovers.
    """
    path = Path(path)
    pattern = _temporary_pattern(path)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue  # a link or folder of that name is someone else's
            age = now - info.st_mtime
            if fcntl is None:
                if age >= STALE_AFTER_SECONDS_WITHOUT_LOCKS:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            elif age >= STALE_AFTER_SECONDS and _unlocked(entry.path):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _unlocked(file_path: str) -> bool:
    """True when no process holds the writer's lock on the file (so its writer is gone)."""
    descriptor = os.open(file_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True  # closing the descriptor below releases the lock again
    finally:
        os.close(descriptor)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
