"""`predict`: image files through a checkpoint agree with the checkpoint's own evaluation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from designer.core import load_architecture
from designer.training import TrainConfig, Trainer, evaluate, predict, save_checkpoint
from designer.training.predictions import Predictor

ROOT = Path(__file__).resolve().parents[2]
TEST_DIGITS = 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """LeNet-5 trained one epoch on the built-in sample, its checkpoint, and test digits as PNGs."""
    folder = tmp_path_factory.mktemp("predict")
    graph = load_architecture(ROOT / "resources" / "templates" / "lenet5.json")
    config = TrainConfig(dataset="mnist-sample", epochs=1, seed=0, device="cpu", download=False)
    trainer = Trainer(graph, config)
    result = trainer.run()
    assert result.status == "finished", result.message
    checkpoint = folder / "checkpoint.pt"
    save_checkpoint(checkpoint, graph, trainer.module, config, result, trainer.normalisation,
                    trainer.dataset.class_names)
    images = trainer.dataset.test_images[:TEST_DIGITS]
    labels = trainer.dataset.test_labels[:TEST_DIGITS]
    paths = []
    for index, image in enumerate(images):
        path = folder / f"digit{index:02d}-{labels[index]}.png"
        Image.fromarray(image[0], "L").save(path)
        paths.append(path)
    return dict(checkpoint=checkpoint, images=images, labels=labels, paths=paths, trainer=trainer, folder=folder)


def test_predictions_from_png_files_equal_the_checkpoints_own_predictions_on_the_arrays(trained):
    predictor = Predictor(trained["checkpoint"])
    results = predictor.predict_files(trained["paths"])
    trainer = trained["trainer"]
    expected = predict(trainer.module, trained["images"], normalisation=trainer.normalisation)

    assert [result.problem for result in results] == [""] * TEST_DIGITS
    for result, probabilities in zip(results, expected):
        order = np.argsort(-probabilities, kind="stable")[:3]
        assert [name for name, _ in result.top] == [str(index) for index in order]
        assert [probability for _, probability in result.top] == pytest.approx(probabilities[order].tolist(),
                                                                               abs=1e-6)
    # ... and so the same accuracy as the evaluation of those test images
    evaluation = evaluate(trainer.module, trained["images"], trained["labels"],
                          normalisation=trainer.normalisation, num_classes=10)
    correct = sum(result.top[0][0] == str(label) for result, label in zip(results, trained["labels"]))
    assert correct / TEST_DIGITS == pytest.approx(evaluation.accuracy)
    assert evaluation.accuracy > 0.5  # a trained network, not chance


def test_the_preprocessing_is_what_the_network_saw_in_training(trained):
    predictor = Predictor(trained["checkpoint"])
    assert predictor.input_shape == (1, 28, 28) and predictor.resize == "crop"
    assert predictor.normalisation == trained["trainer"].normalisation
    assert np.array_equal(predictor.preprocess(trained["paths"][0]), trained["images"][0])
    # A larger colour picture of the same digit becomes grey 28×28 and is still read right.
    big = trained["folder"] / "big.jpg"
    digit = trained["images"][0][0]
    Image.fromarray(np.stack([digit] * 3, axis=-1)).resize((112, 112), Image.Resampling.NEAREST).save(big, quality=95)
    assert predictor.preprocess(big).shape == (1, 28, 28)
    (first,) = predictor.predict_files([big])
    assert first.top[0][0] == predictor.predict_files([trained["paths"][0]])[0].top[0][0]


def run_predict(*arguments):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", *map(str, arguments)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_command_prints_the_top_three_per_image_and_one_line_for_a_bad_one(trained):
    paths = trained["paths"][:3]
    bad = trained["folder"] / "notes.png"
    bad.write_text("not an image")
    completed = run_predict(trained["checkpoint"], paths[0], bad, paths[1], trained["folder"] / "missing.png",
                            paths[2])

    assert completed.returncode == 2, completed.stderr
    lines = completed.stdout.splitlines()
    expected = Predictor(trained["checkpoint"]).predict_files(paths)
    assert lines == [result.line() for result in expected]
    for line in lines:
        assert line.count("%") == 3
    assert completed.stderr.splitlines() == [
        f"error: {bad}: not a PNG, JPEG, BMP or WebP image (or damaged)",
        f"error: {trained['folder'] / 'missing.png'}: cannot be read (No such file or directory)",
    ]

    all_good = run_predict(trained["checkpoint"], *paths, "--top", "1")
    assert all_good.returncode == 0 and all_good.stderr == ""
    assert [line.count("%") for line in all_good.stdout.splitlines()] == [1, 1, 1]


def test_a_bad_checkpoint_exits_2_with_one_line(trained, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"nonsense")
    for checkpoint in (broken, tmp_path / "missing.pt"):
        completed = run_predict(checkpoint, trained["paths"][0])
        assert completed.returncode == 2 and completed.stdout == ""
        assert completed.stderr.startswith("error: ") and len(completed.stderr.splitlines()) == 1
        assert "Traceback" not in completed.stderr
