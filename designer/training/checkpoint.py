"""One file holding a trained network: its architecture document and its weights.

Written with ``torch.save`` of plain types and tensors only, and read with
``torch.load(weights_only=True)``, which refuses anything else — a checkpoint from a
stranger cannot run code. Everything that goes wrong while reading becomes CheckpointError.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from designer.core import Graph, to_document
from designer.core.errors import ArchitectureError, DesignerError
from designer.core.fileformat import parse_document
from designer.nn import BuildError, GraphModule, build_module
from designer.training.evaluation import Normalisation
from designer.training.history import config_from_dict, result_from_dict, result_to_dict
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            torch.save(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):
            raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None
        raise


def _read(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"cannot read {path}: no such file")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch raise a zoo of types here
        if "Unsupported global" in str(error):
            raise CheckpointError(f"{path.name} holds objects other than plain data and tensors, so it is "
                                  f"not a Network Designer checkpoint and was not loaded (it could run "
                                  f"code)") from None
        detail = str(error).split("WeightsUnpickler error:")[-1].strip().splitlines()
        detail = detail[0][:200] if detail else type(error).__name__
        raise CheckpointError(f"{path.name} is not a Network Designer checkpoint, or it is damaged "
                              f"({detail})") from None
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


def _module_from(document: dict, name: str) -> tuple[Graph, GraphModule]:
    try:
        graph = parse_document(document.get("architecture"))
    except ArchitectureError as error:
        raise CheckpointError(f"{name}: the architecture inside is invalid: {error}") from None
    try:
        module = build_module(graph)
    except BuildError as error:
        raise CheckpointError(f"{name}: the architecture inside cannot be built: {error}") from None
    state = document.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"{name}: the weights are missing or damaged")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        # load_state_dict lists every missing, unexpected and wrongly sized tensor.
        detail = " ".join(str(error).split())[:400]
        raise CheckpointError(f"{name}: the weights do not fit the architecture inside ({detail})") from None
    module.eval()
    return graph, module


def _metadata_from(document: dict, name: str) -> CheckpointMetadata:
    try:
        config = config_from_dict(document["config"]) if document.get("config") else None
        result = result_from_dict(document["result"]) if document.get("result") else None
        normalisation = (Normalisation.from_dict(document["normalisation"])
                         if document.get("normalisation") else None)
        class_names = tuple(str(name) for name in document.get("class_names") or ())
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{name}: the training record inside is damaged ({error})") from None
    return CheckpointMetadata(config=config, result=result, normalisation=normalisation,
                              class_names=class_names, created=str(document.get("created", "")),
                              torch_version=str(document.get("torch_version", "")))


def load_checkpoint(path: str | Path) -> tuple[Graph, GraphModule, CheckpointMetadata]:
    """The design, a module with the saved weights (in eval mode, on the CPU), and the rest.

    Raises CheckpointError, and nothing else, for a missing, foreign, damaged or newer file.
    """
    path = Path(path)
    try:
        document = _read(path)
        graph, module = _module_from(document, path.name)
        return graph, module, _metadata_from(document, path.name)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - the promise is one error type
        raise CheckpointError(f"{path.name} cannot be loaded ({type(error).__name__}: {error})") from None
