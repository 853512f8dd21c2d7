"""Image folders: decoding speed, cache start time, listing time against the number of files.

    python tests/benchmarks/bench_datasets.py [--images 10000] [--listing 25000,50000,100000]

1. Writes N generated 64×64 RGB PNGs in 10 class folders (smooth gradients plus noise, so
   they compress like photos rather than like flat colour), then loads them as a 3×64×64
   dataset with each decoding pool (threads, processes), each into an empty cache: images
   per second of the first run. Then the second run of each (the cache): seconds from the
   call to a Dataset in hand.
2. Lists folders of 25,000 / 50,000 / 100,000 files (tiny files, names only matter) to show
   the listing grows linearly: seconds per 1,000 files should stay flat.
Prints figures and the machine; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PIL import Image  # noqa: E402

from designer.data.folder import default_workers, load_image_folder  # noqa: E402
from designer.data.folder_listing import list_image_folder  # noqa: E402


def write_pngs(root: Path, count: int, classes: int = 10, size: int = 64) -> None:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, size)
    for index in range(count):
        folder = root / f"class{index % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = rng.uniform(0, 255, 3)
        picture = (np.outer(ramp, 1 - ramp)[..., None] * colour + rng.normal(0, 12, (size, size, 3)))
        Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), "RGB").save(folder / f"{index:05d}.png")


def time_load(folder: Path, cache: Path, pool: str, workers: int):
    started = time.perf_counter()
    result = load_image_folder(folder, channels=3, height=64, width=64, cache_dir=cache, pool=pool,
                               workers=workers)
    return time.perf_counter() - started, result


def bench_decoding(count: int, work: Path) -> None:
    folder = work / "pngs"
    started = time.perf_counter()
    write_pngs(folder, count)
    size = sum(path.stat().st_size for path in folder.rglob("*.png"))
    print(f"wrote {count:,} PNGs ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    workers = default_workers()
    for pool in ("thread", "process", "thread", "process"):
        cache = work / f"cache-{pool}"
        shutil.rmtree(cache, ignore_errors=True)
        first, result = time_load(folder, cache, pool, workers)
        assert not result.from_cache and result.decoded == count
        second, again = time_load(folder, cache, pool, workers)
        assert again.from_cache
        print(f"  pool={pool:7s} workers={workers}: first run {first:6.2f} s = {count / first:7.0f} images/s; "
              f"second run (cache) {second * 1000:6.1f} ms")
    single, _ = time_load(folder, work / "cache-single", "thread", 1)
    print(f"  one thread (no parallelism): {single:6.2f} s = {count / single:7.0f} images/s")


def bench_listing(counts: list[int], work: Path) -> None:
    for count in counts:
        folder = work / f"listing-{count}"
        for index in range(count):
            class_folder = folder / f"c{index % 2}"
            if index < 2:
                class_folder.mkdir(parents=True)
            # One byte: the listing only stats; zero bytes would be skipped as empty.
            with open(class_folder / f"{index:06d}.png", "wb") as handle:
                handle.write(b"x")
        calls = []
        started = time.perf_counter()
        listing = list_image_folder(folder, progress=lambda done, total: calls.append(done))
        seconds = time.perf_counter() - started
        assert len(listing.entries) == count
        key_started = time.perf_counter()
        listing.content_key(1, (3, 64, 64, "crop"))
        key_seconds = time.perf_counter() - key_started
        print(f"  {count:7,} files: listed in {seconds:5.2f} s ({seconds / count * 1e6:5.1f} µs per file), "
              f"{len(calls)} progress reports; cache key {key_seconds:5.2f} s")
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--listing", default="25000,50000,100000")
    arguments = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}, Pillow {Image.__version__}, load average {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-datasets-"))
    try:
        print(f"decoding {arguments.images:,} 64×64 PNGs into a 3×64×64 cache:")
        bench_decoding(arguments.images, work)
        print("listing (linear in the number of files):")
        bench_listing([int(text) for text in arguments.listing.split(",") if text], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
