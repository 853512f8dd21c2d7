"""Image folders: a person's own pictures become a Dataset, once, through a cache that is never half-written."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from designer.data import Dataset, DatasetError, DownloadCancelled
from designer.data import folder as folder_module
from designer.data.folder import DecodingCancelled, describe_image_folder, load_image_folder, suggest_input_shape
from designer.data.folder_listing import list_image_folder
from designer.data.splits import stratified_split

ROOT = Path(__file__).resolve().parents[2]


def noise(height: int, width: int, seed: int, channels: int = 3) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def make_folder(root: Path, per_class: int = 6, classes=("cat", "dog", "owl")) -> Path:
    """3 classes of PNGs and JPEGs in mixed sizes and modes."""
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            seed = label * 100 + index
            size = (16 + (3 * index) % 17, 12 + (5 * index) % 19)
            if index % 3 == 0:
                Image.fromarray(noise(*size, seed)).save(folder / f"{index}.png")
            elif index % 3 == 1:
                Image.fromarray(noise(*size, seed)).save(folder / f"{index}.jpg", quality=90)
            else:
                Image.fromarray(noise(*size, seed, channels=1), "L").save(folder / f"{index}.png")
    return root


def load(folder: Path, cache: Path, **options):
    settings = dict(channels=3, height=16, width=16)
    settings.update(options)
    return load_image_folder(folder, cache_dir=cache, **settings)


@pytest.fixture
def count_decodes(monkeypatch):
    """How many times an image was decoded (decoding runs in threads of this process)."""
    calls = []
    real = folder_module.decode_image

    def counting(path, *arguments):
        calls.append(path)
        return real(path, *arguments)

    monkeypatch.setattr(folder_module, "decode_image", counting)
    return calls


def test_a_folder_of_class_folders_becomes_a_stratified_uint8_dataset(tmp_path):
    folder = make_folder(tmp_path / "pictures", per_class=10)
    result = load(folder, tmp_path / "cache", seed=5)
    dataset = result.dataset

    assert isinstance(dataset, Dataset) and dataset.name == "folder"
    assert dataset.class_names == ("cat", "dog", "owl")
    assert dataset.input_shape == (3, 16, 16)
    assert dataset.train_images.dtype == np.uint8
    # 20% of every class is held out for testing, chosen by the seed.
    assert np.bincount(dataset.test_labels).tolist() == [2, 2, 2]
    assert np.bincount(dataset.train_labels).tolist() == [8, 8, 8]
    assert result.skipped == () and not result.from_cache and result.decoded == 30
    assert "3 classes (cat, dog, owl), 24 training and 6 test images as RGB 16×16" in result.message()
    other_seed = load(folder, tmp_path / "cache", seed=6).dataset
    assert not np.array_equal(other_seed.test_images, dataset.test_images)


def test_the_split_holds_out_each_class_in_proportion_and_is_the_trainers_rule():
    trainer = pytest.importorskip("designer.training.trainer")
    assert trainer.stratified_split is stratified_split, "the validation split and the folder split differ"

    labels = np.random.default_rng(1).integers(0, 7, 500)
    for fraction, seed in ((0.1, 0), (0.25, 3)):
        kept, held = stratified_split(labels, fraction, seed)
        assert sorted(np.concatenate([kept, held]).tolist()) == list(range(500))
        for label in range(7):
            assert np.sum(labels[held] == label) == round(fraction * np.sum(labels == label))
        again = stratified_split(labels, fraction, seed)
        assert np.array_equal(again[1], held)
        assert not np.array_equal(stratified_split(labels, fraction, seed + 1)[1], held)
    kept, held = stratified_split(labels, 0.0, 1)
    assert kept.tolist() == list(range(500)) and held.size == 0


def test_the_second_load_reads_the_cache_and_decodes_nothing(tmp_path, count_decodes):
    folder = make_folder(tmp_path / "pictures")
    first = load(folder, tmp_path / "cache")
    assert len(count_decodes) == 18 and not first.from_cache
    second = load(folder, tmp_path / "cache")

    assert len(count_decodes) == 18, "the second run decoded images again"
    assert second.from_cache and second.decoded == 0 and "read from the cache" in second.message()
    assert np.array_equal(first.dataset.train_images, second.dataset.train_images)
    assert np.array_equal(first.dataset.test_labels, second.dataset.test_labels)


def test_changing_the_folder_or_the_target_shape_decodes_again(tmp_path, count_decodes):
    folder = make_folder(tmp_path / "pictures")
    load(folder, tmp_path / "cache")
    assert len(count_decodes) == 18

    load(folder, tmp_path / "cache", height=20)  # another design's Input
    assert len(count_decodes) == 36
    load(folder, tmp_path / "cache", resize="letterbox")
    assert len(count_decodes) == 54

    picture = folder / "cat" / "0.png"
    Image.fromarray(noise(12, 12, 99)).save(picture)  # edited in place
    os.utime(picture, ns=(1, 1))
    changed = load(folder, tmp_path / "cache")
    assert len(count_decodes) == 72 and not changed.from_cache
    # The outdated cache of the same folder and target was removed, the other targets kept.
    assert len([path for path in (tmp_path / "cache").iterdir()]) == 3


def test_train_and_test_folders_are_used_as_given(tmp_path):
    make_folder(tmp_path / "data" / "train", per_class=4, classes=("a", "b"))
    make_folder(tmp_path / "data" / "test", per_class=2, classes=("a", "b"))
    (tmp_path / "data" / "notes").mkdir()
    result = load(tmp_path / "data", tmp_path / "cache", channels=1)

    assert result.dataset.class_names == ("a", "b")
    assert result.dataset.train_labels.tolist() == [0] * 4 + [1] * 4
    assert result.dataset.test_labels.tolist() == [0, 0, 1, 1]
    assert result.dataset.input_shape == (1, 16, 16)
    # With its own test folder nothing is copied: both splits are views of the memory-mapped cache.
    assert isinstance(result.dataset.train_images, np.memmap) and isinstance(result.dataset.test_images, np.memmap)
    assert "only train/ and test/ are read; ignored notes" in result.message()
    expected = Image.open(tmp_path / "data" / "test" / "b" / "1.jpg").convert("L").resize((16, 16))
    assert np.abs(result.dataset.test_images[3, 0].astype(int) - np.asarray(expected, dtype=int)).mean() < 30


def test_a_class_found_only_in_the_test_folder_is_refused(tmp_path):
    make_folder(tmp_path / "data" / "train", per_class=2, classes=("a", "b"))
    make_folder(tmp_path / "data" / "test", per_class=2, classes=("a", "b", "c"))
    with pytest.raises(DatasetError, match=r"class 'c' has no training images in train/"):
        load(tmp_path / "data", tmp_path / "cache")


def test_hidden_files_and_macos_companions_are_neither_pictures_nor_classes(tmp_path):
    folder = make_folder(tmp_path / "pictures", classes=("cat", "dog"))
    (folder / "__MACOSX" / "cat").mkdir(parents=True)
    (folder / "__MACOSX" / "cat" / "._0.png").write_bytes(b"\x00\x05\x16\x07")
    (folder / "cat" / "._0.png").write_bytes(b"\x00\x05\x16\x07")
    (folder / ".thumbnails").mkdir()
    (folder / "dog" / ".DS_Store").write_bytes(b"\x00")
    result = load(folder, tmp_path / "cache")
    assert result.dataset.class_names == ("cat", "dog")
    assert result.skipped == () and result.ignored_files == 0


def test_unreadable_files_are_skipped_counted_and_named(tmp_path):
    folder = make_folder(tmp_path / "pictures")
    (folder / "cat" / "empty.png").write_bytes(b"")
    (folder / "dog" / "letter.png").write_text("Dear Sir, this is not a picture.")
    (folder / "owl" / "cut.jpg").write_bytes((folder / "owl" / "1.jpg").read_bytes()[:200])
    (folder / "owl" / "README.txt").write_text("about the owls")
    result = load(folder, tmp_path / "cache")

    reasons = {item.path: item.reason for item in result.skipped}
    assert reasons["cat/empty.png"] == "empty file (0 bytes)"
    assert "not a PNG, JPEG, BMP or WebP image" in reasons["dog/letter.png"]
    assert "owl/cut.jpg" in reasons
    assert result.dataset.train_images.shape[0] + result.dataset.test_images.shape[0] == 18
    message = result.message()
    assert "skipped 3 files that cannot be used: " in message and "cat/empty.png (empty file (0 bytes))" in message
    assert "ignored 1 file not named like an image" in message
    # The same list comes back when the cache is read.
    assert {item.path for item in load(folder, tmp_path / "cache").skipped} == set(reasons)


def test_many_skipped_files_are_counted_and_only_a_few_named(tmp_path):
    folder = make_folder(tmp_path / "pictures")
    for index in range(40):
        (folder / "dog" / f"bad{index:02d}.png").write_bytes(b"not a png")
    result = load(folder, tmp_path / "cache")
    message = result.message()
    assert len(result.skipped) == 40
    assert "skipped 40 files" in message and "and 37 more" in message and "bad39" not in message


def test_a_class_whose_every_file_is_unreadable_is_refused_with_its_name(tmp_path):
    folder = make_folder(tmp_path / "pictures", classes=("cat", "dog"))
    shutil.rmtree(folder / "dog")
    (folder / "dog").mkdir()
    (folder / "dog" / "a.png").write_text("text")
    (folder / "dog" / "b.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"class 'dog' has no readable training images.*skipped 2 files"):
        load(folder, tmp_path / "cache")
    (folder / "dog" / "a.png").unlink()
    with pytest.raises(DatasetError, match=r"class 'dog' has no training images in its folder"):
        load(folder, tmp_path / "cache")


@pytest.mark.parametrize("classes", [(), ("only",)])
def test_fewer_than_two_classes_is_refused(tmp_path, classes):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name in classes:
        make_folder(folder / "x", classes=(name,))
        (folder / "x" / name).rename(folder / name)
        (folder / "x").rmdir()
    (folder / "loose.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"found [01] class folders? .* training needs at least two"):
        load(folder, tmp_path / "cache")


def test_a_missing_folder_or_a_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load(tmp_path / "nowhere", tmp_path / "cache")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="is a file"):
        load(tmp_path / "file.png", tmp_path / "cache")
    with pytest.raises(DatasetError, match="1 \\(grey\\) or 3 \\(RGB\\)"):
        load(make_folder(tmp_path / "p"), tmp_path / "cache", channels=2)


def png_of_size(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any size whose compressed pixels are a few kilobytes."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = bytes(1 + (width + 7) // 8)  # filter byte + packed black pixels
    compressor = zlib.compressobj(9)
    rows = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    rows += compressor.compress(row * (height % 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_skipped_with_a_clear_message_without_decoding_them(tmp_path):
    folder = make_folder(tmp_path / "pictures")
    (folder / "cat" / "huge.png").write_bytes(png_of_size(20_000, 20_000))  # over 2× Pillow's limit
    (folder / "dog" / "large.png").write_bytes(png_of_size(10_000, 10_000))  # between 1× and 2×
    assert (folder / "cat" / "huge.png").stat().st_size < 200_000
    result = load(folder, tmp_path / "cache")

    reasons = {item.path: item.reason for item in result.skipped}
    assert reasons["cat/huge.png"].startswith("too large (400,000,000 pixels; the limit is 89,478,485 pixels")
    assert "decompression bombs" in reasons["cat/huge.png"]
    assert reasons["dog/large.png"].startswith("too large (10,000×10,000 pixels; the limit is 89,478,485")
    assert result.dataset.train_images.shape[0] + result.dataset.test_images.shape[0] == 18


def test_symbolic_link_loops_are_skipped(tmp_path):
    folder = make_folder(tmp_path / "pictures")
    os.symlink("self.png", folder / "cat" / "self.png")  # a link to itself
    os.symlink("..", folder / "dog" / "up")  # a folder link back to the class folder's parent
    os.symlink(".", folder / "owl" / "here")  # and to itself
    result = load(folder, tmp_path / "cache")

    reasons = {item.path: item.reason for item in result.skipped}
    assert reasons["cat/self.png"] == "symbolic link loop"
    assert "link loop" in reasons["owl/here"]
    # dog/up leads back to all classes: cat's and owl's pictures count for dog too, once each,
    # dog itself is not read twice, and the walk ends.
    assert "link loop" in reasons["dog/up/dog"]
    counts = np.bincount(np.concatenate([result.dataset.train_labels, result.dataset.test_labels]))
    assert counts.tolist() == [6, 6 + 6 + 6, 6]


def test_names_that_are_not_utf8_are_read_and_shown_with_a_replacement_character(tmp_path):
    folder = make_folder(tmp_path / "pictures", classes=("cat", "dog"))
    latin_class = os.fsencode(folder) + b"/caf\xe9"
    os.mkdir(latin_class)
    picture = np.asarray(Image.open(folder / "cat" / "0.png"))
    for name in (b"\xff\xfe.png", b"na\xefve.png"):
        Image.fromarray(picture).save(open(latin_class + b"/" + name, "wb"), format="PNG")
    (Path(os.fsdecode(latin_class)) / "broken.png").write_bytes(b"")
    os.rename(folder / "dog" / "1.jpg", os.fsencode(folder / "dog") + b"/\x80\x81.jpg")
    result = load(folder, tmp_path / "cache")

    assert result.dataset.class_names == ("caf\ufffd", "cat", "dog")
    counts = np.bincount(np.concatenate([result.dataset.train_labels, result.dataset.test_labels]))
    assert counts.tolist() == [2, 6, 6]
    assert result.message().encode("utf-8")  # printable: no lone surrogates
    assert [item.path for item in result.skipped] == ["caf\ufffd/broken.png"]
    assert load(folder, tmp_path / "cache").from_cache


def test_a_large_folder_is_listed_with_progress_and_can_be_cancelled(tmp_path):
    folder = tmp_path / "many"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
    for index in range(3_000):
        (folder / ("a" if index % 2 else "b") / f"{index:05d}.png").write_bytes(b"x")
    reports = []
    listing = list_image_folder(folder, progress=lambda done, total: reports.append((done, total)))
    assert len(listing.entries) == 3_000
    assert len(reports) >= 10 and all(total == 0 for _, total in reports)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert reports[-1] == (3_000, 0)

    with pytest.raises(DecodingCancelled):
        load(folder, tmp_path / "cache", should_cancel=lambda: len(reports) > 12,
             progress=lambda done, total: reports.append((done, total)))
    assert issubclass(DecodingCancelled, DownloadCancelled)


def test_cancel_while_decoding_leaves_no_cache_and_no_temporary_folder(tmp_path):
    folder = make_folder(tmp_path / "pictures", per_class=40)
    reports = []
    with pytest.raises(DecodingCancelled, match="decoding"):
        load(folder, tmp_path / "cache", progress=lambda done, total: reports.append((done, total)),
             should_cancel=lambda: any(total for _, total in reports))
    assert list((tmp_path / "cache").iterdir()) == []
    assert not load(folder, tmp_path / "cache").from_cache


KILLED_DECODE = textwrap.dedent("""
    import os, signal, sys
    from designer.data.folder import load_image_folder

    def progress(done, total):
        if total:  # decoding has begun: die the hard way, as a killed process would
            os.kill(os.getpid(), signal.SIGKILL)

    load_image_folder(sys.argv[1], channels=3, height=16, width=16, cache_dir=sys.argv[2], progress=progress)
""")


def test_a_killed_decode_leaves_nothing_that_looks_like_a_cache(tmp_path, count_decodes):
    folder = make_folder(tmp_path / "pictures", per_class=60)
    cache = tmp_path / "cache"
    completed = subprocess.run([sys.executable, "-c", KILLED_DECODE, str(folder), str(cache)], cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=60)
    assert completed.returncode == -signal.SIGKILL, completed.stderr
    leftovers = list(cache.iterdir())
    assert leftovers and all(path.name.startswith(".") and path.name.endswith(".tmp") for path in leftovers)

    result = load(folder, cache)
    assert not result.from_cache and len(count_decodes) == 180
    assert [path.name for path in cache.iterdir()] == [result.cache_folder.name]  # the dead one's folder is gone


def test_an_unwritable_cache_decodes_into_memory_and_says_so(tmp_path, count_decodes):
    folder = make_folder(tmp_path / "pictures")
    (tmp_path / "a-file").write_text("x")
    result = load(folder, tmp_path / "a-file" / "cache")
    assert result.cache_folder is None and len(count_decodes) == 18
    assert "cannot be written" in result.message() and "decoded again next time" in result.message()
    assert result.dataset.train_images.shape[0] + result.dataset.test_images.shape[0] == 18


def test_the_process_pool_decodes_exactly_what_the_thread_pool_does(tmp_path):
    folder = make_folder(tmp_path / "pictures", per_class=12)
    (folder / "owl" / "bad.png").write_text("no")
    threads = load(folder, tmp_path / "cache-threads", pool="thread", workers=2)
    processes = load(folder, tmp_path / "cache-processes", pool="process", workers=2)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(getattr(threads.dataset, name), getattr(processes.dataset, name))
    assert [item.path for item in processes.skipped] == ["owl/bad.png"]


def _unreadable_check(folder: Path, cache: Path) -> str:
    script = textwrap.dedent("""
        import sys
        from designer.data.folder import load_image_folder
        result = load_image_folder(sys.argv[1], channels=1, height=8, width=8, cache_dir=sys.argv[2])
        print(result.message())
    """)
    command = [sys.executable, "-c", script, str(folder), str(cache)]
    if os.geteuid() == 0:
        # Root reads anything; drop the capabilities that let it, so permissions apply as for anyone.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    completed = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_unreadable_files_and_folders_are_skipped_as_permission_denied(tmp_path):
    folder = make_folder(tmp_path / "pictures")
    (folder / "cat" / "0.png").chmod(0)
    (folder / "dog" / "locked").mkdir()
    Image.fromarray(noise(9, 9, 1)).save(folder / "dog" / "locked" / "x.png")
    (folder / "dog" / "locked").chmod(0)
    try:
        message = _unreadable_check(folder, tmp_path / "cache")
    finally:
        (folder / "dog" / "locked").chmod(0o755)
    assert "cat/0.png (permission denied)" in message and "dog/locked/ (permission denied)" in message
    assert "skipped 2 files" in message


def test_describe_counts_classes_and_images_without_decoding(tmp_path, count_decodes):
    folder = make_folder(tmp_path / "pictures", per_class=10)
    info = describe_image_folder(folder, (3, 32, 32))
    assert info.class_names == ("cat", "dog", "owl") and info.input_shape == (3, 32, 32)
    assert (info.train_size, info.test_size) == (24, 6) and info.download_bytes == 0
    assert count_decodes == []


def test_an_input_shape_is_suggested_from_the_pictures(tmp_path):
    colour = make_folder(tmp_path / "colour")  # RGB and grey; shorter sides 12, 13, 17, 18, 22, 25
    assert suggest_input_shape(colour) == (3, 16, 16)
    grey = tmp_path / "grey"
    for name in ("a", "b"):
        (grey / name).mkdir(parents=True)
        for index in range(3):
            Image.fromarray(noise(300, 400, index, channels=1), "L").save(grey / name / f"{index}.png")
    assert suggest_input_shape(grey) == (1, 64, 64)
