"""Errors raised by the rules core.

A bad message is data, not a crash: `EventDecodeError` carries every field at
fault as a frozen `FieldError`, plus whatever envelope identifiers could be
read, so the stream adapter can write the message to the dead-letter topic with
a reason and move on. `FieldError` is a plain frozen dataclass, so orjson
serialises it as-is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from config.errors import LoanwatchError

__all__ = ["EventDecodeError", "FieldError", "RulesError"]

# Enough to read in a log line or a Kafka header; the full list stays on `.errors`.
_SHOWN_IN_MESSAGE = 10


class RulesError(LoanwatchError):
    """Root of the errors raised by the `rules` package."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of a message.

    `field` is a dotted path into the message (``schedule.2.due_date``); ``$``
    stands for the message as a whole (not JSON, too large, not an object).
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class EventDecodeError(RulesError):
    """Raw bytes could not be turned into an `Event`.

    The message lists the fields at fault; ``event_id``, ``loan_id`` and
    ``event_type`` are set when the payload was readable enough to find them,
    so the dead-letter record can be traced back to its producer and loan.
    """

    def __init__(
        self,
        errors: Iterable[FieldError],
        *,
        event_id: str | None = None,
        loan_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("EventDecodeError needs at least one FieldError")
        self.event_id = event_id
        self.loan_id = loan_id
        self.event_type = event_type
        super().__init__(_render(self.errors))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling; keep the
        # error intact when it crosses a process boundary.
        return (
            _rebuild,
            (self.errors, self.event_id, self.loan_id, self.event_type),
        )


def _rebuild(
    errors: tuple[FieldError, ...],
    event_id: str | None,
    loan_id: str | None,
    event_type: str | None,
) -> EventDecodeError:
    return EventDecodeError(errors, event_id=event_id, loan_id=loan_id, event_type=event_type)


def _render(errors: tuple[FieldError, ...]) -> str:
    shown = "; ".join(str(error) for error in errors[:_SHOWN_IN_MESSAGE])
    hidden = len(errors) - _SHOWN_IN_MESSAGE
    return f"{shown}; (+{hidden} more)" if hidden > 0 else shown
