"""Seeded, stratified splits of a labelled set (numpy only).

The one rule for the trainer's validation split and an image folder's test split: every
class gives up ``round(fraction × its size)`` members, chosen by a numpy generator seeded with ``seed``, and both index arrays come back
sorted so a split of memory-mapped data reads the file front to back.
"""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept indices, held-out indices): ``fraction`` of every class held out, seeded."""
    labels = np.asarray(labels)
    if fraction <= 0:
        return np.arange(labels.shape[0]), np.zeros(0, dtype=np.int64)
    generator = np.random.default_rng(seed)
    kept, held_out = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        generator.shuffle(members)
        held = int(round(fraction * members.shape[0]))
        held_out.append(members[:held])
        kept.append(members[held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held_out))
