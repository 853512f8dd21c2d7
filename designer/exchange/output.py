"""Writing what an export or import produces: all of it, or nothing.

A folder is written as a hidden temporary sibling and renamed into place once complete; files
are written as temporary files beside their targets and renamed over them at the end. An
existing output is refused unless ``force`` is given, and even then a folder is only replaced
when it is empty or an earlier export (a person's other folder is never deleted).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from designer.exchange.errors import ExchangeError

#: files every PyTorch export holds; a folder with all of them may be replaced with --force
EXPORT_MARKERS = ("model.py", "train.py", "distributed.py")


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _default_mode(executable: bool = False) -> int:
    """What a plain ``open()`` or ``mkdir()`` would give under the current umask
    (``mkstemp``/``mkdtemp`` make private files, which a person would not expect)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if executable else 0o666) & ~umask


def is_earlier_export(folder: Path) -> bool:
    return all((folder / name).is_file() for name in EXPORT_MARKERS)


def check_output(path: Path, force: bool, kind: str) -> None:
    """Refuse an output that exists (unless ``force``) or that could not be replaced."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if kind == "folder":
        if not path.is_dir():
            raise ExchangeError(f"{path} exists and is not a folder; choose another output folder")
        if not force:
            raise ExchangeError(f"{path} already exists; choose another folder or add --force to replace it")
        if any(path.iterdir()) and not is_earlier_export(path):
            raise ExchangeError(f"{path} exists and is not an earlier export (it lacks "
                                f"{', '.join(EXPORT_MARKERS)}); --force replaces only an earlier export "
                                f"or an empty folder, so choose another folder")
    else:
        if path.is_dir():
            raise ExchangeError(f"{path} is a folder; name a file to write")
        if not force:
            raise ExchangeError(f"{path} already exists; choose another name or add --force to replace it")


def check_writable(path: Path) -> None:
    """Refuse at once (before a long export) when nothing can be written beside ``path``."""
    path = Path(path)
    _make_parent(path)
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    except OSError as error:
        raise ExchangeError(f"cannot write in {path.parent}: {_reason(error)}") from None
    os.close(descriptor)
    os.unlink(name)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExchangeError(f"cannot create the folder {path.parent}: {_reason(error)}") from None


@contextlib.contextmanager
def staged_folder(target: Path, force: bool = False):
    """Yield an empty temporary folder beside ``target``; it becomes ``target`` on success."""
    target = Path(target)
    check_output(target, force, "folder")
    _make_parent(target)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as error:
        raise ExchangeError(f"cannot write in {target.parent}: {_reason(error)}") from None
    try:
        yield staging
        os.chmod(staging, _default_mode(executable=True))
        if target.exists():
            # A folder cannot be renamed over a non-empty one: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExchangeError(f"cannot write {target}: {_reason(error)}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_files(targets: list[Path], force: bool = False):
    """Yield {target: temporary path beside it}; every temporary replaces its target on success.

    All the targets are checked before anything is written, so a refused second file leaves
    the first untouched.
    """
    targets = [Path(target) for target in targets]
    for target in targets:
        check_output(target, force, "file")
    temporaries: dict[Path, Path] = {}
    try:
        for target in targets:
            _make_parent(target)
            try:
                descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                                    dir=target.parent)
            except OSError as error:
                raise ExchangeError(f"cannot write in {target.parent}: {_reason(error)}") from None
            os.close(descriptor)
            temporaries[target] = Path(name)
        yield dict(temporaries)
        for target, temporary in temporaries.items():
            os.chmod(temporary, _default_mode())
        for target, temporary in temporaries.items():
            os.replace(temporary, target)
    except OSError as error:
        raise ExchangeError(f"cannot write {targets[0] if len(targets) == 1 else targets[0].parent}: "
                            f"{_reason(error)}") from None
    finally:
        for temporary in temporaries.values():
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def write_file(path: Path, data: bytes | str) -> None:
    """Write and flush to disk (inside a staged folder or to a staged temporary)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
