"""FC → convolution on a person's design: convert, show the outputs agree, draw the score map."""

from __future__ import annotations

import numpy as np

COMPARISON_IMAGES = 256


def convert_design(graph, model, config, tiles: int, seed: int = 0, *, should_stop=None) -> dict:
    """Convert ``graph`` (with ``model``'s trained weights when it is a ``TrainedModel`` of exactly
    this design, else fresh ones seeded by ``seed``), compare both networks' outputs on test
    images of ``config.dataset`` (random images when there are none), and compute the converted
    network's class-score map over ``tiles`` test images side by side."""
    import torch

    from designer.data import DatasetError
    from designer.lab.common import check
    from designer.lab.transforms import (TransformError, compare_outputs, fc_to_conv, fully_convolutional_scores,
                                         tile_images)
    from designer.nn import build_module
    from designer.training.datasets import dataset_for_run
    from designer.training.evaluation import Normalisation

    if model is not None:
        original = build_module(graph)
        original.load_state_dict({key: value.detach().cpu() for key, value in model.module.state_dict().items()})
        normalisation = model.normalisation
    else:
        torch.manual_seed(seed)
        original = build_module(graph)
        normalisation = None
    original.eval()
    state = original.state_dict()
    check(should_stop)
    new_graph, new_state, report = fc_to_conv(graph, state)
    converted = build_module(new_graph)
    converted.load_state_dict(new_state, strict=True)
    converted.eval()
    check(should_stop)

    channels, height, width = original.input_shape
    result = {"graph": new_graph, "report": report, "module": converted, "carried": model is not None,
              "dataset_error": "", "score_error": "", "class_names": (), "images": "test images"}
    try:
        dataset = dataset_for_run(config, (channels, height, width))
        if dataset.input_shape != (channels, height, width):
            raise DatasetError(f"{config.dataset} images are {dataset.input_shape}, the design takes "
                               f"{(channels, height, width)}")
        images = dataset.test_images[:COMPARISON_IMAGES]
        labels = dataset.test_labels
        result["class_names"] = tuple(dataset.class_names)
        result["images"] = f"{images.shape[0]} {config.dataset} test images"
    except DatasetError as error:
        # The equality of the two networks does not depend on the data: random images show it too.
        generator = np.random.default_rng(seed)
        images = generator.integers(0, 256, (COMPARISON_IMAGES, channels, height, width), dtype=np.uint8)
        labels = np.full(COMPARISON_IMAGES, -1, dtype=np.int64)
        result["dataset_error"] = str(error)
        result["images"] = f"{COMPARISON_IMAGES} random images (no test set: {error})"
    normalisation = normalisation or Normalisation.identity(channels)
    prepared = normalisation.apply(torch.from_numpy(np.ascontiguousarray(images)))
    result["max_difference"] = compare_outputs(original, converted, prepared)
    result["samples"] = int(images.shape[0])
    check(should_stop)

    count = max(1, min(int(tiles), images.shape[0]))
    canvas = tile_images(torch.from_numpy(np.ascontiguousarray(images[:count])))
    result["canvas"] = canvas[0].numpy().astype(np.float32) / 255.0
    result["tile_labels"] = [int(label) for label in labels[:count]]
    result["tile_width"] = width
    try:
        score_map = fully_convolutional_scores(new_graph, new_state, normalisation.apply(canvas))
        result["scores"] = torch.softmax(torch.from_numpy(score_map.scores), dim=1).numpy()
        result["stride"] = score_map.stride
        result["canvas_shape"] = score_map.input_shape
    except TransformError as error:
        result["score_error"] = str(error)
    return result


__all__ = ["COMPARISON_IMAGES", "convert_design"]
