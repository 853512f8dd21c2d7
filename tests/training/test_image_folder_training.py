"""An image folder trains end to end with the Trainer, and predict reads its pictures the same way.

(The command line and the dock train folders through the run path: tests/training/test_folder_runs.py
and tests/ui/test_image_folder_dock.py.)
"""

from __future__ import annotations

import numpy as np

from designer.data.folder import load_image_folder
from designer.training import TrainConfig, Trainer, save_checkpoint
from designer.training.predictions import Predictor

CLASSES = ("blue", "green", "red")  # the folders of tests/conftest.py's write_colour_folder


def test_a_generated_image_folder_trains_and_its_pictures_are_predicted_as_their_class(tmp_path, colour_folder,
                                                                                     colour_network):
    folder = colour_folder
    loaded = load_image_folder(folder, channels=3, height=16, width=16, cache_dir=tmp_path / "cache", seed=0)
    assert len(loaded.skipped) == 4
    dataset = loaded.dataset
    config = TrainConfig(epochs=8, batch_size=8, learning_rate=3e-3, seed=0, device="cpu", download=False)
    trainer = Trainer(colour_network(), config, dataset=dataset)
    result = trainer.run()

    assert result.status == "finished", result.message
    assert trainer.info.class_names == ("blue", "green", "red")
    assert result.test_accuracy == 1.0
    checkpoint = tmp_path / "checkpoint.pt"
    save_checkpoint(checkpoint, trainer.graph, trainer.module, config, result, trainer.normalisation,
                    dataset.class_names)
    predictor = Predictor(checkpoint)
    pictures = [folder / name / file for name in CLASSES for file in ("0.jpg", "1.png", "2.png")]
    predictions = predictor.predict_files(pictures)
    assert [prediction.top[0][0] for prediction in predictions] == [name for name in CLASSES for _ in range(3)]
    # The predictor's preprocessing is the cache's: the same uint8 pixels for the same file.
    first_red = predictor.preprocess(folder / "red" / "2.png")
    all_images = np.concatenate([dataset.train_images, dataset.test_images])
    assert any(np.array_equal(first_red, image) for image in all_images)
