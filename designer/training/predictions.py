"""Predictions for image files from a saved checkpoint, with the training run's preprocessing.

Every file goes through ``designer.data.image_decode.decode_image`` — the function image
folders are cached with — at the Input block's channels and size and the run's resize
mode, then through the checkpoint's normalisation (the training split's mean and standard
deviation). So an image gets exactly the numbers its twin in a training folder got.

``python main.py predict CHECKPOINT.pt IMAGE…`` prints one line per image: its top classes
with probabilities, or why it could not be read; the other images are still predicted.

(Not named ``predict.py``: importing a submodule of that name would replace the package's
``designer.training.predict`` function with the module.)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from designer.data.folder_listing import display_name
from designer.data.image_decode import DEFAULT_RESIZE, RESIZE_MODES, ImageProblem, decode_image
from designer.training.checkpoint import CheckpointError, load_checkpoint
from designer.training.evaluation import Normalisation, predict

from designer.command_line import EXIT_BAD_INPUT
DEFAULT_TOP = 3


@dataclass(frozen=True)
class Prediction:
    path: str  # as given, displayable
    top: tuple[tuple[str, float], ...] = ()  # (class name, probability), most probable first
    problem: str = ""  # why this image could not be predicted; empty when it was

    def line(self) -> str:
        if self.problem:
            return f"{self.path}: {self.problem}"
        return f"{self.path}: " + ", ".join(f"{name} {probability:.2%}" for name, probability in self.top)


def _resize_mode(config) -> str:
    # The run's resize mode, once training records one (image folders); older runs and the
    # built-in datasets were never resized, and for same-sized images both modes are the identity.
    mode = getattr(config, "resize", None) if config is not None else None
    return mode if mode in RESIZE_MODES else DEFAULT_RESIZE


class Predictor:
    """A checkpoint ready to classify image files."""

    def __init__(self, checkpoint: str | Path) -> None:
        """Raises CheckpointError (missing, damaged or foreign file; an Input that is not 1 or 3 channels)."""
        self.graph, self.module, self.metadata = load_checkpoint(checkpoint)
        channels, height, width = (int(size) for size in self.module.input_shape)
        if channels not in (1, 3):
            raise CheckpointError(f"{Path(checkpoint).name}: the network's Input has {channels} channels; "
                                  f"images can be read as 1 (grey) or 3 (RGB) channels only")
        self.input_shape = (channels, height, width)
        self.resize = _resize_mode(self.metadata.config)
        self.normalisation = self.metadata.normalisation or Normalisation.identity(channels)
        classes = int(self.module.output_shape[0]) if len(self.module.output_shape) == 1 else 0
        names = tuple(self.metadata.class_names)
        self.class_names = names if len(names) == classes else tuple(str(index) for index in range(classes))

    def preprocess(self, path: str | Path) -> np.ndarray:
        """The uint8 C×H×W image the network sees for ``path``; raises ImageProblem."""
        channels, height, width = self.input_shape
        return decode_image(path, channels, height, width, self.resize)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N×K) for uint8 N×C×H×W images."""
        return predict(self.module, images, normalisation=self.normalisation)

    def top_classes(self, probabilities: np.ndarray, top: int = DEFAULT_TOP) -> tuple[tuple[str, float], ...]:
        # A stable sort: equal probabilities keep class order, so output is reproducible.
        order = np.argsort(-probabilities, kind="stable")[:top]
        return tuple((self.class_names[index], float(probabilities[index])) for index in order)

    def predict_files(self, paths: list[str | Path], top: int = DEFAULT_TOP) -> list[Prediction]:
        """One Prediction per path, in order; an unreadable image gets its problem, the rest still run."""
        decoded, problems = {}, {}
        for index, path in enumerate(paths):
            try:
                decoded[index] = self.preprocess(path)
            except ImageProblem as problem:
                problems[index] = str(problem)
        probabilities = self.probabilities(np.stack(list(decoded.values()))) if decoded else None
        rows = {index: row for row, index in enumerate(decoded)}
        results = []
        for index, path in enumerate(paths):
            shown = display_name(str(path))
            if index in problems:
                results.append(Prediction(shown, problem=problems[index]))
            else:
                results.append(Prediction(shown, self.top_classes(probabilities[rows[index]], top)))
        return results


def predict_command(arguments) -> int:
    """``arguments``: checkpoint, images, top (designer/cli.py). Prints the top classes of every
    image; returns 0 when all were predicted, 2 when the checkpoint or any image was bad."""
    if arguments.top < 1:
        print(f"error: --top must be ≥ 1, not {arguments.top}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        predictor = Predictor(arguments.checkpoint)
    except CheckpointError as error:
        print(f"error: {display_name(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    results = predictor.predict_files(arguments.images, top=arguments.top)
    for result in results:
        if result.problem:
            print(f"error: {result.line()}", file=sys.stderr)
        else:
            print(result.line())
    sys.stdout.flush()
    return EXIT_BAD_INPUT if any(result.problem for result in results) else 0
