"""The design against the Training dock's dataset (``designer.training.fit``), and the edits that fix it.

For a catalogue dataset the rule compares the Input block and the classifier with the
dataset's shape and classes. For an image folder the pictures are resized to the Input,
so only its channels (1 or 3) and the classifier's outputs (one per class folder) must fit;
the folder's listing comes from the settings (``ImageFolderChoice``), listed when chosen.
"""

from __future__ import annotations

from designer.core import DesignerError, format_shape
from designer.data import FOLDER_DATASET, dataset_info
from designer.training.fit import FitCheck, FitProblem, check_fit_to_dataset, check_fit_to_images


def dataset_fit(graph, settings, analysis=None) -> FitCheck:
    """``graph`` against the dataset ``settings`` (``TrainingSettings``) names."""
    if settings.dataset_name != FOLDER_DATASET:
        return check_fit_to_dataset(graph, settings.dataset_name, analysis)
    choice = settings.image_folder
    if choice.folder is None:
        return FitCheck("the image folder", (FitProblem("dataset", "choose the folder of images (Folder…): one "
                                                                   "sub-folder of pictures per class"),))
    if choice.info is None:
        return FitCheck("the image folder", (FitProblem("dataset", choice.problem or "the folder cannot be read"),))
    return check_fit_to_images(graph, choice.info, analysis, choice.suggestion)


def dataset_description(settings):
    """The ``DatasetInfo`` of the dock's dataset (an image folder's from its listing), or None."""
    if settings.dataset_name == FOLDER_DATASET:
        return settings.image_folder.info
    return dataset_info(settings.dataset_name)


def apply_changes(document, changes, text: str) -> bool:
    """``changes`` (block id, parameter, value) as one undo step; False when the design is locked."""
    if not changes or document.locked:
        return False
    try:
        with document.macro(text):
            for block_id, name, value in changes:
                document.set_param(block_id, name, value)
    except DesignerError:
        return False
    return True


def input_changes(graph, shape) -> list[tuple[str, str, int]]:
    """The edits that make the Input block ``shape`` (C, H, W)."""
    for block_id in graph.inputs():
        block = graph.block(block_id)
        if block.type.is_input:
            names = [spec.name for spec in block.type.params]
            return [(block.id, name, int(value)) for name, value in zip(names, shape) if block.params[name] != value]
    return []


def use_input_shape(document, shape) -> bool:
    """Set the Input block to ``shape`` (one undo step), e.g. what an image folder's pictures suggest."""
    return apply_changes(document, input_changes(document.graph, shape), f"Input {format_shape(shape)}")


__all__ = ["apply_changes", "dataset_description", "dataset_fit", "input_changes", "use_input_shape"]
