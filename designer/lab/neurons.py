"""Look inside a trained network: which FC neurons fire for one image, and what it predicts."""

from __future__ import annotations

import numpy as np
import torch

from designer.core import Graph


def fc_activations(module: torch.nn.Module, graph: Graph, image) -> list[tuple[str, np.ndarray]]:
    """``[(fc block id, 1-D float32 activations)]`` for every FC block, in network order.

    Reported after the activation when the FC's only reader is an activation block (what the
    next layer actually sees, so "fires" means a positive ReLU output); otherwise the FC's own
    output (for the classifier: the logits). ``image`` is one C×H×W (or 1×C×H×W) float tensor
    scaled as for training. The module runs in eval mode (Dropout off) and its mode is restored.
    """
    image = torch.as_tensor(image)
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one C×H×W image, got shape {tuple(image.shape)}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            values = module(image.float(), keep=True)
    finally:
        module.train(was_training)
    result = []
    for block_id in graph.topological_order():
        if not graph.block(block_id).type.fully_connected:
            continue
        readers = graph.successors(block_id)
        shown = block_id
        if len(readers) == 1 and graph.block(readers[0]).type.is_activation:
            shown = readers[0]
        result.append((block_id, values[shown][0].reshape(-1).numpy().astype(np.float32)))
    return result


def top_predictions(logits, k: int = 3, class_names=None) -> list[tuple[str, float]]:
    """The ``k`` most likely classes as ``[(name, probability)]``, most likely first.

    ``logits`` is one row of raw scores (K or 1×K); probabilities are its softmax. Without
    ``class_names`` the classes are named by their index.
    """
    scores = torch.as_tensor(logits, dtype=torch.float64).reshape(-1)
    if scores.numel() == 0:
        return []
    probabilities = torch.softmax(scores, dim=0)
    k = max(0, min(int(k), scores.numel()))
    values, indices = torch.topk(probabilities, k)
    names = list(class_names) if class_names is not None else [str(index) for index in range(scores.numel())]
    if len(names) != scores.numel():
        raise ValueError(f"{len(names)} class names for {scores.numel()} scores")
    return [(names[int(index)], float(value)) for value, index in zip(values, indices)]


def look_inside(model, index: int) -> dict:
    """Everything the neuron view shows for test image ``index`` of ``model`` (a ``TrainedModel``):
    the image, its label, each FC layer's activations and the top-3 predictions."""
    from designer.training.datasets import dataset_for_model
    from designer.training.evaluation import Normalisation

    dataset = dataset_for_model(model)
    count = int(dataset.test_images.shape[0])
    index = max(0, min(int(index), count - 1))
    stored = dataset.test_images[index:index + 1]
    normalisation = model.normalisation or Normalisation.identity(stored.shape[1])
    image = normalisation.apply(torch.from_numpy(np.ascontiguousarray(stored)))
    module = model.module
    layers = fc_activations(module, model.graph, image)
    module.eval()
    with torch.no_grad():
        logits = module(image)[0]
    names = model.class_names or tuple(str(number) for number in range(int(logits.numel())))
    return {"index": index, "count": count, "image": stored[0].astype(np.float32) / 255.0,
            "label": int(dataset.test_labels[index]), "class_names": tuple(names), "layers": layers,
            "top": top_predictions(logits, 3, names), "model": model.label}


def look_at_image(model, path) -> dict:
    """What the window's prediction view shows for an image file through ``model`` (a ``TrainedModel``):
    the picture as the network sees it — read at the Input's channels and size with the run's
    resize mode, exactly as ``predict`` and image folders read it — the top-3 classes and each
    FC layer's activations. Raises ``ImageProblem`` for a file that cannot be read, ValueError
    for a network whose Input is not 1 or 3 channels."""
    from designer.data.folder_listing import display_name
    from designer.data.image_decode import DEFAULT_RESIZE, RESIZE_MODES, decode_image
    from designer.training.datasets import design_input_shape
    from designer.training.evaluation import Normalisation

    shape = design_input_shape(model.graph)
    if shape is None or shape[0] not in (1, 3):
        raise ValueError(f"the network's Input is {shape}; pictures can be read as 1 (grey) or 3 (RGB) channels")
    channels, height, width = shape
    resize = getattr(model.config, "resize", DEFAULT_RESIZE)
    resize = resize if resize in RESIZE_MODES else DEFAULT_RESIZE
    stored = decode_image(path, channels, height, width, resize)
    normalisation = model.normalisation or Normalisation.identity(channels)
    image = normalisation.apply(torch.from_numpy(np.ascontiguousarray(stored[None])))
    module = model.module
    layers = fc_activations(module, model.graph, image)
    module.eval()
    with torch.no_grad():
        logits = module(image)[0]
    names = model.class_names if len(model.class_names) == int(logits.numel()) else \
        tuple(str(number) for number in range(int(logits.numel())))
    return {"path": display_name(str(path)), "image": stored, "resize": resize, "class_names": tuple(names),
            "layers": layers, "top": top_predictions(logits, 3, names), "model": model.label}
