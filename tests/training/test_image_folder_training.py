"""An image folder trains end to end with today's Trainer, and predict reads its pictures the same way.

(The `train --dataset folder` option and the dock come when the lead wires the run path; this
test passes the folder's Dataset to the Trainer directly, as that wiring will.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from designer.core import Graph, chain
from designer.data.folder import load_image_folder
from designer.training import TrainConfig, Trainer, save_checkpoint
from designer.training.predictions import Predictor

COLOURS = {"blue": (0, 0, 200), "green": (0, 180, 0), "red": (210, 0, 0)}


def write_colour_folder(root: Path, per_class: int = 20) -> Path:
    """3 classes told apart by colour; PNG and JPEG, mixed sizes, RGB and palette, a few broken files."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            height, width = 14 + index % 9, 16 + (index * 7) % 23
            pixels = np.clip(np.array(colour) + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, "RGB")
            if index % 4 == 0:
                image.save(folder / f"{index}.jpg", quality=85)
            elif index % 4 == 1:
                image.convert("P").save(folder / f"{index}.png")
            else:
                image.save(folder / f"{index}.png")
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "red" / "empty.jpg").write_bytes(b"")
    return root


def small_network() -> Graph:
    graph = Graph("colours")
    chain(graph, [("Input", {"channels": 3, "height": 16, "width": 16}),
                  ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("ReLU", {}),
                  ("MaxPool2d", {"kernel_size": 2}), ("Flatten", {}), ("FC", {"out_features": 3})])
    return graph


def test_a_generated_image_folder_trains_and_its_pictures_are_predicted_as_their_class(tmp_path):
    folder = write_colour_folder(tmp_path / "colours")
    loaded = load_image_folder(folder, channels=3, height=16, width=16, cache_dir=tmp_path / "cache", seed=0)
    assert len(loaded.skipped) == 4
    dataset = loaded.dataset
    config = TrainConfig(epochs=8, batch_size=8, learning_rate=3e-3, seed=0, device="cpu", download=False)
    trainer = Trainer(small_network(), config, dataset=dataset)
    result = trainer.run()

    assert result.status == "finished", result.message
    assert trainer.info.class_names == ("blue", "green", "red")
    assert result.test_accuracy == 1.0
    checkpoint = tmp_path / "checkpoint.pt"
    save_checkpoint(checkpoint, trainer.graph, trainer.module, config, result, trainer.normalisation,
                    dataset.class_names)
    predictor = Predictor(checkpoint)
    pictures = [folder / name / file for name in COLOURS for file in ("0.jpg", "1.png", "2.png")]
    predictions = predictor.predict_files(pictures)
    assert [prediction.top[0][0] for prediction in predictions] == [name for name in COLOURS for _ in range(3)]
    # The predictor's preprocessing is the cache's: the same uint8 pixels for the same file.
    first_red = predictor.preprocess(folder / "red" / "2.png")
    all_images = np.concatenate([dataset.train_images, dataset.test_images])
    assert any(np.array_equal(first_red, image) for image in all_images)
