"""Errors the models package raises on purpose, under the project's root error."""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["CheckpointError", "ModelError", "UnknownModelError"]


class ModelError(LoanwatchError):
    """Root of the errors raised by `models`."""


class UnknownModelError(ModelError):
    """A model or candidate name that the package does not know; the message lists the known."""


class CheckpointError(ModelError):
    """A checkpoint (hub or label store bytes) cannot be read; the message says which part."""
