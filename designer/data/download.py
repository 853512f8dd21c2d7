"""Download one file from a list of mirrors, verify its MD5, and only then put it in place.

The network is reached only through a *downloader*: a callable taking a URL and
returning (length in bytes or None, iterable of byte chunks). The default one uses
urllib; tests pass their own to simulate a good download, a dead network or a wrong
file without touching the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from designer.data.errors import DatasetError, DownloadCancelled

Downloader = Callable[[str], tuple[int | None, Iterable[bytes]]]
ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

CHUNK_BYTES = 256 * 1024
TIMEOUT_SECONDS = 30
# Errors that mean "this mirror did not give us the file"; the next mirror may.
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)
# A download in progress rewrites its temporary file every chunk; one untouched this long
# was left by a process that was killed and can go.
STALE_TEMPORARY_SECONDS = 15 * 60


class ProgressLine:
    """Download progress on one terminal line that rewrites itself ("downloading 3.1 of 11.6 MB").

    Pass it as the progress callback; call ``finish()`` before printing anything else (an error
    above all), so that nothing is glued to the end of the half-drawn line.
    """

    def __init__(self, stream: TextIO | None = None, what: str = "downloading") -> None:
        self.stream = stream
        self.what = what
        self.open = False

    def __call__(self, done: int, total: int) -> None:
        stream = self.stream or sys.stderr
        print(f"\r{self.what} {done / 1e6:.1f} of {total / 1e6:.1f} MB", end="", file=stream, flush=True)
        self.open = True
        if total and done >= total:
            self.finish()

    def finish(self) -> None:
        """End the progress line, if one is drawn; harmless to call again."""
        if self.open:
            print(file=self.stream or sys.stderr, flush=True)
            self.open = False


def urllib_downloader(url: str) -> tuple[int | None, Iterator[bytes]]:
    request = urllib.request.Request(url, headers={"User-Agent": "network-designer"})
    response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    length_header = response.headers.get("Content-Length", "")
    length = int(length_header) if length_header.isdigit() else None

    def chunks() -> Iterator[bytes]:
        # Closing the generator (on cancel) closes the connection through `with`.
        with response:
            while chunk := response.read(CHUNK_BYTES):
                yield chunk

    return length, chunks()


def _fetch_to_temporary(url: str, temporary_path: Path, downloader: Downloader,
                        progress: ProgressCallback | None, should_cancel: CancelCheck | None,
                        expected_size: int) -> str:
    """Stream `url` into `temporary_path`, returning the MD5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    length, chunks = downloader(url)
    total = length or expected_size
    done = 0
    try:
        with open(temporary_path, "wb") as output:
            for chunk in chunks:
                if should_cancel is not None and should_cancel():
                    raise DownloadCancelled("cancelled")
                output.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, max(total, done))
            output.flush()
            os.fsync(output.fileno())
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return digest.hexdigest()


def _remove_stale_temporaries(destination: Path) -> None:
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for leftover in destination.parent.glob(f".{destination.name}.*.part"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # another process removed it first, or it is not ours to remove


def download_verified(urls: Iterable[str], destination: Path, expected_md5: str, *,
                      what: str, advice: str, downloader: Downloader | None = None,
                      progress: ProgressCallback | None = None,
                      should_cancel: CancelCheck | None = None, expected_size: int = 0) -> Path:
    """Download to `destination`, trying each URL in turn until one gives the right MD5.

    The bytes go to a temporary file beside `destination` and are moved into place
    with os.replace only after the checksum matches, so a failed, wrong or cancelled
    download never leaves a partial file where a reader would find it.
    `what` ("MNIST: train-images-idx3-ubyte.gz") and `advice` make up the error message.
    """
    downloader = downloader or urllib_downloader
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(destination)
    failures: list[str] = []
    checksum_failed = False
    for url in urls:
        if should_cancel is not None and should_cancel():
            raise DownloadCancelled(f"{what}: download cancelled. {advice}")
        descriptor, temporary_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
        os.close(descriptor)
        temporary_path = Path(temporary_name)
        try:
            actual_md5 = _fetch_to_temporary(url, temporary_path, downloader, progress,
                                             should_cancel, expected_size)
            if actual_md5 == expected_md5:
                os.replace(temporary_path, destination)
                return destination
            checksum_failed = True
            failures.append(f"{url} gave a file whose MD5 is {actual_md5}, expected {expected_md5}")
        except DownloadCancelled:
            raise DownloadCancelled(f"{what}: download cancelled. {advice}") from None
        except NETWORK_ERRORS as error:
            failures.append(f"{url}: {getattr(error, 'reason', None) or error}")
        finally:
            temporary_path.unlink(missing_ok=True)

    if checksum_failed:
        problem = "was downloaded but did not match its published checksum, so it was discarded"
    else:
        problem = "could not be downloaded (is the computer offline?)"
    raise DatasetError(f"{what} {problem} [{'; '.join(failures)}]. {advice}")
