"""What the lab's experiments share: how a long one is cancelled between its steps."""

from __future__ import annotations


class Cancelled(Exception):
    """The person cancelled; raised between two steps of an experiment, never mid-step."""


def check(should_stop) -> None:
    """Raise ``Cancelled`` when ``should_stop()`` says so (``should_stop`` may be None)."""
    if should_stop is not None and should_stop():
        raise Cancelled()


__all__ = ["Cancelled", "check"]
