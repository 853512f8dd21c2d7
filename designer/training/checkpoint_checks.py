"""What a checkpoint must pass before its weights are used: checksum, tensor types, settings.

``torch.load(weights_only=True)`` already refuses code; these checks refuse a file that was
altered or damaged (one flipped byte in the weights changes the network silently
otherwise) and weights no network of ours can use (NaN, infinity), and they turn odd but
harmless contents into a note instead of an error.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields

import torch

from designer.core.errors import excerpt
from designer.training.records import DEVICES, OPTIMIZERS, TrainConfig

CHECKSUM_ALGORITHM = "sha256"
#: Keys of the document the checksum covers besides the tensors: everything but itself.
_NOT_COVERED = ("state_dict", "checksum")


class CheckFailed(Exception):
    """A check refused the file; the message follows the file's name."""


def contents_checksum(document: dict) -> str:
    """SHA-256 over the metadata (canonical JSON) and every tensor (name, type, shape, bytes).

    Tensors are taken in sorted name order and every part is length-prefixed, so the same
    contents always give the same digest and no two different contents can run together.
    """
    digest = hashlib.sha256()

    def part(data) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    metadata = {key: value for key, value in document.items() if key not in _NOT_COVERED}
    part(json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    state = document.get("state_dict") or {}
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        part(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode("utf-8"))
        part(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def checksum_record(document: dict) -> dict:
    return {"algorithm": CHECKSUM_ALGORITHM, "value": contents_checksum(document)}


def verify_checksum(document: dict) -> list[str]:
    """Raise CheckFailed when the contents differ from what was saved; notes for an old file."""
    record = document.get("checksum")
    if record is None:
        return ["it was saved without a checksum (by an earlier version of the program), so its "
                "contents could not be verified"]
    if not isinstance(record, dict) or record.get("algorithm") != CHECKSUM_ALGORITHM \
            or not isinstance(record.get("value"), str):
        raise CheckFailed(f"its checksum record is damaged ({excerpt(record)}), so its contents cannot be "
                          f"trusted and it was not loaded")
    if contents_checksum(document) != record["value"]:
        raise CheckFailed("it is damaged: its contents no longer match the checksum saved with them (bytes "
                          "changed since it was saved), so it was not loaded; use another copy or train again")
    return []


def fit_weights(state: dict, expected: dict) -> tuple[dict, list[str]]:
    """The stored tensors in the types the network holds, or CheckFailed; with notes.

    A floating-point tensor of another precision (float64, float16) is converted, with a note;
    a tensor of another kind (integers where weights are floats), NaN or infinity is refused.
    Names and shapes are left to ``load_state_dict``, whose message lists every mismatch.
    """
    fitted = {}
    converted = []
    for name, tensor in state.items():
        wanted = expected.get(name)
        if wanted is not None and tensor.dtype != wanted.dtype:
            if tensor.is_floating_point() and wanted.is_floating_point():
                converted.append((name, tensor.dtype, wanted.dtype))
                tensor = tensor.to(wanted.dtype)
            else:
                raise CheckFailed(f"the weights are of the wrong type ('{excerpt(name, 40)}' holds "
                                  f"{_type_name(tensor.dtype)}, the network needs {_type_name(wanted.dtype)}), "
                                  f"so it was not loaded")
        if tensor.is_floating_point() or tensor.is_complex():
            if not bool(torch.isfinite(tensor).all()):
                after = " after conversion to float32" if converted and converted[-1][0] == name else ""
                raise CheckFailed(f"the weights hold NaN or infinite values{after} (in '{excerpt(name, 40)}'), "
                                  f"so the network cannot be used and was not loaded; train it again "
                                  f"(a lower learning rate keeps the weights finite)")
        fitted[name] = tensor
    notes = []
    if converted:
        kinds = sorted({_type_name(old) for _, old, _ in converted})
        notes.append(f"{len(converted)} weight tensor{'s' if len(converted) > 1 else ''} stored as "
                     f"{' and '.join(kinds)} {'were' if len(converted) > 1 else 'was'} converted to "
                     f"{_type_name(converted[0][2])}")
    return fitted, notes


def _type_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# ----------------------------------------------------------------------------- settings

_BIG = 10**6


def _whole(low: int, high: int, optional: bool = False):
    def check(value):
        if optional and value is None:
            return True
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return check, (f"a whole number from {low:,} to {high:,}" + (" or none" if optional else ""))


def _number(low: float, high: float, *, open_low: bool = False, open_high: bool = False):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        value = float(value) if abs(value) < 1e308 else math.inf
        if not math.isfinite(value):
            return False
        return (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    return check, f"a number {'above' if open_low else 'from'} {low:g} {'and below' if open_high else 'to'} {high:g}"


def _one_of(choices):
    return (lambda value: isinstance(value, str) and value in choices), f"one of {', '.join(choices)}"


def _text_or_none(limit: int):
    return (lambda value: value is None or (isinstance(value, str) and len(value) <= limit)), \
        f"a folder name of up to {limit:,} characters, or none"


_BOOL = (lambda value: isinstance(value, bool)), "true or false"


def _setting_rules() -> dict:
    # Imported here: designer.data is light, but only this check needs the names.
    from designer.data import TRAINING_DATASETS
    from designer.data.image_decode import RESIZE_MODES

    return {
        "dataset": _one_of(TRAINING_DATASETS),
        "data_folder": _text_or_none(4096),
        "epochs": _whole(1, _BIG),
        "batch_size": _whole(1, _BIG),
        "optimizer": _one_of(OPTIMIZERS),
        "learning_rate": _number(0, 1e3, open_low=True),
        "momentum": _number(0, 1, open_high=True),
        "weight_decay": _number(0, 1e3),
        "validation_fraction": _number(0, 1, open_high=True),
        "early_stopping_patience": _whole(1, _BIG, optional=True),
        "seed": _whole(0, 2**63 - 1),
        "device": _one_of(DEVICES),
        "download": _BOOL,
        "deterministic": _BOOL,
        "augment": _spec_text(_augment_ok, "an augmentation such as shift:4,flip"),
        "schedule": _spec_text(_schedule_ok, "a schedule such as cosine or step:10"),
        "resize": _one_of(RESIZE_MODES),
    }


def _spec_text(parses, wanted: str):
    return (lambda value: isinstance(value, str) and len(value) <= 200 and parses(value)), wanted


def _augment_ok(text: str) -> bool:
    from designer.training.specs import AugmentError, parse_augment

    try:
        parse_augment(text)
    except AugmentError:
        return False
    return True


def _schedule_ok(text: str) -> bool:
    from designer.training.specs import ScheduleError, parse_schedule

    try:
        parse_schedule(text)
    except ScheduleError:
        return False
    return True


def sane_config(raw) -> tuple[TrainConfig | None, list[str]]:
    """The training settings saved with the weights; a value that cannot be right takes the
    default, with a note saying which and why (the weights do not depend on them)."""
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [f"its training settings are not readable ({excerpt(raw)}) and were left out"]
    defaults = TrainConfig()
    rules = _setting_rules()
    values, notes = {}, []
    for field in fields(TrainConfig):
        if field.name not in raw:
            continue
        value = raw[field.name]
        check, wanted = rules[field.name]
        if check(value):
            values[field.name] = float(value) if isinstance(getattr(defaults, field.name), float) else value
        else:
            default = getattr(defaults, field.name)
            notes.append(f"setting '{field.name}' was {excerpt(value, 30)}, not {wanted}; "
                         f"the default {default!r} is used")
    return TrainConfig(**values), notes[:5] + ([f"and {len(notes) - 5} more settings"] if len(notes) > 5 else [])


def sane_class_names(raw) -> tuple[tuple[str, ...], list[str]]:
    if raw is None:
        return (), []
    if not isinstance(raw, (list, tuple)) or len(raw) > 100_000 \
            or not all(isinstance(name, str) and len(name) <= 200 for name in raw):
        return (), [f"its class names are not readable ({excerpt(raw)}) and were left out"]
    return tuple(raw), []
