"""Downloads: verified by MD5, atomic, cancellable, and never through the real network here."""

import http.client
import os
import urllib.error

import pytest

from designer.data import DatasetError, DownloadCancelled
from designer.data.download import download_verified

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


def serve(mapping, chunk_size=1000):
    """A downloader serving bytes from memory; a URL not in `mapping` is unreachable."""
    calls = []

    def downloader(url):
        calls.append(url)
        if url not in mapping:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        data = mapping[url]
        return len(data), (data[start:start + chunk_size] for start in range(0, len(data), chunk_size))

    downloader.calls = calls
    return downloader


def download(tmp_path, downloader, md5, **options):
    return download_verified(["https://first.example/file.gz", "https://second.example/file.gz"],
                             tmp_path / "cache" / "file.gz", md5, what="MNIST: file.gz",
                             advice="Place the four IDX files in /x.", downloader=downloader,
                             **options)


def test_good_download_lands_in_place_with_progress(tmp_path, builders, list_files):
    progress = []
    path = download(tmp_path, serve({"https://first.example/file.gz": PAYLOAD}),
                    builders.md5_of(PAYLOAD), progress=lambda done, total: progress.append((done, total)))
    assert path.read_bytes() == PAYLOAD
    assert list_files(tmp_path / "cache") == ["file.gz"]
    assert progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_next_mirror_is_tried_when_the_first_is_unreachable(tmp_path, builders):
    downloader = serve({"https://second.example/file.gz": PAYLOAD})
    path = download(tmp_path, downloader, builders.md5_of(PAYLOAD))
    assert path.read_bytes() == PAYLOAD
    assert downloader.calls == ["https://first.example/file.gz", "https://second.example/file.gz"]


def test_no_network_says_so_and_leaves_nothing(tmp_path, builders, list_files):
    with pytest.raises(DatasetError) as raised:
        download(tmp_path, serve({}), builders.md5_of(PAYLOAD))
    message = str(raised.value)
    assert message.startswith("MNIST: file.gz could not be downloaded (is the computer offline?)")
    assert "Temporary failure in name resolution" in message
    assert message.endswith("Place the four IDX files in /x.")
    assert list_files(tmp_path / "cache") == []


def test_checksum_mismatch_discards_the_file(tmp_path, list_files):
    downloader = serve({"https://first.example/file.gz": PAYLOAD,
                        "https://second.example/file.gz": PAYLOAD})
    with pytest.raises(DatasetError, match="did not match its published checksum, so it was discarded"):
        download(tmp_path, downloader, "0" * 32)
    assert list_files(tmp_path / "cache") == []


def test_cancel_during_download_leaves_no_partial_file(tmp_path, builders, list_files):
    progress = []
    with pytest.raises(DownloadCancelled, match="MNIST: file.gz: download cancelled"):
        download(tmp_path, serve({"https://first.example/file.gz": PAYLOAD}),
                 builders.md5_of(PAYLOAD), progress=lambda done, total: progress.append(done),
                 should_cancel=lambda: len(progress) >= 3)
    assert list_files(tmp_path / "cache") == []
    assert len(progress) == 3  # stopped at the next chunk, and did not go on to the next mirror


def test_connection_lost_mid_stream_leaves_no_partial_file(tmp_path, builders, list_files):
    def downloader(url):
        def chunks():
            yield PAYLOAD[:5000]
            raise http.client.IncompleteRead(PAYLOAD[:10])
        return len(PAYLOAD), chunks()

    with pytest.raises(DatasetError, match="could not be downloaded"):
        download(tmp_path, downloader, builders.md5_of(PAYLOAD))
    assert list_files(tmp_path / "cache") == []


def test_existing_good_file_survives_a_failed_download(tmp_path, list_files):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "file.gz").write_bytes(b"older copy")
    with pytest.raises(DatasetError):
        download(tmp_path, serve({"https://first.example/file.gz": PAYLOAD}), "0" * 32)
    assert (tmp_path / "cache" / "file.gz").read_bytes() == b"older copy"
    assert list_files(tmp_path / "cache") == ["file.gz"]


def test_temporary_file_left_by_a_killed_process_is_cleared(tmp_path, builders, list_files):
    cache = tmp_path / "cache"
    cache.mkdir()
    old_leftover = cache / ".file.gz.abc123.part"
    old_leftover.write_bytes(b"half")
    os.utime(old_leftover, (0, 0))
    live_leftover = cache / ".file.gz.def456.part"  # another download still writing
    live_leftover.write_bytes(b"half")
    download(tmp_path, serve({"https://first.example/file.gz": PAYLOAD}), builders.md5_of(PAYLOAD))
    assert list_files(cache) == [".file.gz.def456.part", "file.gz"]


def test_default_downloader_streams_with_urllib(tmp_path, builders):
    # A file:// URL exercises the real urllib path without any network.
    source = tmp_path / "published.gz"
    source.write_bytes(PAYLOAD * 30)
    path = download_verified([source.as_uri()], tmp_path / "cache" / "file.gz",
                             builders.md5_of(PAYLOAD * 30), what="MNIST: file.gz", advice="")
    assert path.read_bytes() == PAYLOAD * 30


def test_own_mirror_replaces_the_public_ones(tmp_path, monkeypatch):
    from designer.data import load_dataset
    from designer.data.loading import MIRROR_VARIABLE

    monkeypatch.setenv(MIRROR_VARIABLE, "http://mirror.example/data/")
    downloader = serve({})
    with pytest.raises(DatasetError) as raised:
        load_dataset("mnist", cache_dir=tmp_path, downloader=downloader)
    assert downloader.calls == ["http://mirror.example/data/mnist/train-images-idx3-ubyte.gz"]
    assert "http://mirror.example/data/mnist/train-images-idx3-ubyte.gz" in str(raised.value)

    monkeypatch.delenv(MIRROR_VARIABLE)
    downloader = serve({})
    with pytest.raises(DatasetError):
        load_dataset("mnist", cache_dir=tmp_path, downloader=downloader)
    assert downloader.calls and not any("mirror.example" in url for url in downloader.calls)
