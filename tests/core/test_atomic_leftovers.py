"""A save killed midway leaves a hidden temporary; the next save or open clears it (issue 14, defect 10).

Only our own temporaries of that very file go, and only when no running save holds them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from designer.core import Graph, load_architecture, save_architecture
from designer.core.atomic import STALE_AFTER_SECONDS, atomic_writer, remove_stale_temporaries, write_text_atomically

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = time.time() - 3600


def aged(path: Path, when: float = LONG_AGO) -> Path:
    os.utime(path, (when, when))
    return path


def killed_save(target: Path) -> Path:
    """Start a save in another process and kill it while it writes; return the temporary it left."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from designer.core.atomic import atomic_writer\n"
        "with atomic_writer(Path(sys.argv[1])) as handle:\n"
        "    handle.write(b'half a design')\n"
        "    handle.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(target)], cwd=ROOT, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == -signal.SIGKILL
    leftovers = list(target.parent.glob(f".{target.name}.*.tmp"))
    assert len(leftovers) == 1
    return leftovers[0]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_next_save_clears_what_a_killed_save_left(tmp_path):
    target = tmp_path / "net.json"
    save_architecture(Graph("first"), target)
    leftover = aged(killed_save(target))
    assert '"name": "first"' in target.read_text()  # the person's file is whole
    save_architecture(Graph("second"), target)
    assert not leftover.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["net.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_opening_the_file_clears_them_too(tmp_path):
    target = tmp_path / "net.json"
    save_architecture(Graph("first"), target)
    leftover = aged(killed_save(target))
    load_architecture(target)
    assert not leftover.exists()


def test_only_our_own_stale_temporaries_of_that_file_go(tmp_path):
    target = tmp_path / "net.json"
    target.write_text("{}")
    ours = tmp_path / ".net.json.ab3_x9qz.tmp"
    ours.write_bytes(b"x")
    aged(ours)
    kept = {
        ".net.json.young123.tmp": None,  # a save that may still be starting
        ".net.json.abc.tmp": LONG_AGO,  # not mkstemp's 8 characters
        ".net.json.ABCDEFGH.tmp": LONG_AGO,  # mkstemp never uses capitals
        ".other.json.abcdefgh.tmp": LONG_AGO,  # another file's
        "net.json.abcdefgh.tmp": LONG_AGO,  # not hidden: not ours
        ".net.json.abcdefgh.tmp.bak": LONG_AGO,
        ".net.json.abcdefgh.part": LONG_AGO,  # a download's, cleared by its own rule
        "notes.txt": LONG_AGO,
    }
    for name, when in kept.items():
        path = tmp_path / name
        path.write_bytes(b"keep me")
        if when is not None:
            aged(path, when)
    folder = tmp_path / ".net.json.folder12.tmp"
    folder.mkdir()
    aged(folder)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    link = tmp_path / ".net.json.linkto12.tmp"
    link.symlink_to(outside)

    removed = remove_stale_temporaries(target)
    assert removed == [ours]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [*kept, "net.json", folder.name, "outside.txt", link.name])
    assert outside.read_text() == "keep me"


@pytest.mark.skipif(sys.platform == "win32", reason="file locks are POSIX here")
def test_a_running_save_is_never_disturbed(tmp_path):
    target = tmp_path / "net.json"
    with atomic_writer(target) as handle:
        handle.write(b"first half ")
        temporary = next(tmp_path.glob(".net.json.*.tmp"))
        aged(temporary)  # even a slow save, quiet for an hour, keeps its temporary
        assert remove_stale_temporaries(target) == []
        write_text_atomically(tmp_path / "other.json", "{}")  # another file's save
        handle.write(b"second half")
    assert target.read_bytes() == b"first half second half"
    assert not temporary.exists()


def test_a_young_temporary_is_kept_even_without_a_lock(tmp_path):
    target = tmp_path / "net.json"
    fresh = tmp_path / ".net.json.abcdefgh.tmp"
    fresh.write_bytes(b"x")
    assert remove_stale_temporaries(target) == []
    assert remove_stale_temporaries(target, now=time.time() + STALE_AFTER_SECONDS + 1) == [fresh]


def test_a_folder_we_cannot_list_is_no_error(tmp_path):
    assert remove_stale_temporaries(tmp_path / "absent" / "net.json") == []
