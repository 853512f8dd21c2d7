"""One file holding a trained network: its architecture document and its weights.

Written with ``torch.save`` of plain types and tensors only, through the project's atomic
writer, and read with ``torch.load(weights_only=True)``, which refuses anything else — a
checkpoint from a stranger cannot run code. A SHA-256 of the contents is saved with them and
checked on load (checkpoint_checks.py): a file altered or damaged since is refused, and so
are weights holding NaN or infinity. Everything that goes wrong while reading becomes
CheckpointError; what is odd but harmless becomes a note in the metadata.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from designer.core import Graph, to_document
from designer.core.atomic import atomic_writer
from designer.core.errors import ArchitectureError, DesignerError, one_line
from designer.core.fileformat import parse_document
from designer.nn import BuildError, GraphModule, build_module
from designer.training.checkpoint_checks import (CheckFailed, checksum_record, fit_weights, sane_class_names,
                                                 sane_config, verify_checksum)
from designer.training.evaluation import Normalisation
from designer.training.history import result_from_dict, result_to_dict
from designer.training.records import TrainConfig, TrainResult

CHECKPOINT_FORMAT = "network-designer/checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(DesignerError):
    """A checkpoint that cannot be written or read back into a network."""


@dataclass(frozen=True)
class CheckpointMetadata:
    config: TrainConfig | None
    result: TrainResult | None
    normalisation: Normalisation | None  # what inputs the weights expect; None if not recorded
    class_names: tuple[str, ...]
    created: str  # ISO 8601, UTC
    torch_version: str
    # Things a person should know about what was loaded: no checksum in an old file, weights
    # converted from float64, a damaged setting replaced by its default. One sentence each.
    notes: tuple[str, ...] = ()


def save_checkpoint(path: str | Path, graph: Graph, module: nn.Module, config: TrainConfig | None = None,
                    result: TrainResult | None = None, normalisation: Normalisation | None = None,
                    class_names: tuple[str, ...] | list[str] = ()) -> None:
    """Write atomically: a crash mid-save leaves any earlier checkpoint intact."""
    path = Path(path)
    document = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": to_document(graph),
        "state_dict": {key: value.detach().cpu().clone() for key, value in module.state_dict().items()},
        "config": config.to_dict() if config is not None else None,
        "result": result_to_dict(result) if result is not None else None,
        "normalisation": normalisation.to_dict() if normalisation is not None else None,
        "class_names": [str(name) for name in class_names],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
    }
    document["checksum"] = checksum_record(document)
    try:
        with atomic_writer(path) as handle:
            torch.save(document, handle)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


def _read(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"cannot read {path}: no such file")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch raise a zoo of types here
        text = str(error)
        refused = text.startswith("Weights only load failed") or "WeightsUnpickler" in text
        # torch's own message goes on to suggest weights_only=False, i.e. running the file's
        # code: it is never repeated. A pickle naming functions or classes holds something our
        # program never writes; an unknown opcode means bytes that are no torch file at all.
        if refused and any(word in text for word in ("GLOBAL", "global", "reduce", "class", "blocked")):
            raise CheckpointError(f"{path.name} holds objects that Network Designer never writes in a "
                                  f"checkpoint, so it was not loaded (loading them could run code); it is "
                                  f"not a Network Designer checkpoint, or it was altered") from None
        if refused:
            detail = "its contents are not in PyTorch's checkpoint format"
        else:
            detail = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        raise CheckpointError(f"{path.name} is not a Network Designer checkpoint, or it is damaged "
                              f"({one_line(detail, 200)})") from None
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path.name} is a PyTorch file but not a Network Designer checkpoint "
                              f"(it lacks the architecture of the network)")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path.name}: unknown checkpoint version {version!r}")
    if version > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path.name} was written by a newer version of the program "
                              f"(checkpoint version {version}); update the program to open it")
    return document


def _module_from(document: dict, name: str) -> tuple[Graph, GraphModule, list[str]]:
    try:
        graph = parse_document(document.get("architecture"))
    except ArchitectureError as error:
        raise CheckpointError(f"{name}: the architecture inside is invalid: {error}") from None
    try:
        module = build_module(graph)
    except BuildError as error:
        raise CheckpointError(f"{name}: the architecture inside cannot be built: {error}") from None
    state, notes = fit_weights(document["state_dict"], module.state_dict())
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        # load_state_dict lists every missing, unexpected and wrongly sized tensor.
        detail = " ".join(str(error).split())[:400]
        raise CheckpointError(f"{name}: the weights do not fit the architecture inside ({detail})") from None
    module.eval()
    return graph, module, notes


def _normalisation_from(raw, channels: int | None) -> Normalisation | None:
    if not raw:
        return None
    normalisation = Normalisation.from_dict(raw)
    values = normalisation.mean + normalisation.std
    if not all(math.isfinite(value) for value in values) or min(normalisation.std) <= 0:
        raise ValueError("the input statistics must be finite, with standard deviations above 0")
    if channels is not None and len(normalisation.mean) != channels:
        raise ValueError(f"input statistics for {len(normalisation.mean)} channels, but the network takes {channels}")
    return normalisation


def _metadata_from(document: dict, name: str, channels: int | None) -> CheckpointMetadata:
    config, notes = sane_config(document.get("config") or None)
    class_names, class_notes = sane_class_names(document.get("class_names"))
    try:
        result = result_from_dict(document["result"]) if document.get("result") else None
        normalisation = _normalisation_from(document.get("normalisation"), channels)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{name}: the training record inside is damaged ({error})") from None
    return CheckpointMetadata(config=config, result=result, normalisation=normalisation,
                              class_names=class_names, created=str(document.get("created", ""))[:40],
                              torch_version=str(document.get("torch_version", ""))[:40],
                              notes=tuple(notes + class_notes))


def load_checkpoint(path: str | Path) -> tuple[Graph, GraphModule, CheckpointMetadata]:
    """The design, a module with the saved weights (in eval mode, on the CPU), and the rest.

    Raises CheckpointError, and nothing else, for a missing, foreign, damaged, altered or newer
    file, or weights that are not finite. ``metadata.notes`` says what a person should know about
    a file that loaded (saved without a checksum, weights converted, a setting defaulted).
    """
    path = Path(path)
    try:
        document = _read(path)
        state = document.get("state_dict")
        if not isinstance(state, dict) or not all(isinstance(key, str) and isinstance(value, torch.Tensor)
                                                  for key, value in state.items()):
            raise CheckpointError(f"{path.name}: the weights are missing or damaged")
        notes = verify_checksum(document)
        graph, module, weight_notes = _module_from(document, path.name)
        metadata = _metadata_from(document, path.name, getattr(module, "input_shape", (None,))[0])
        return graph, module, _with_notes(metadata, notes + weight_notes)
    except CheckFailed as failure:
        raise CheckpointError(f"{path.name}: {failure}") from None
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - the promise is one error type
        raise CheckpointError(f"{path.name} cannot be loaded ({type(error).__name__}: "
                              f"{one_line(str(error), 200)})") from None


def _with_notes(metadata: CheckpointMetadata, notes: list[str]) -> CheckpointMetadata:
    return CheckpointMetadata(**{**metadata.__dict__, "notes": tuple(notes) + metadata.notes})
