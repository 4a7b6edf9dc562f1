"""Reading an event history: what every source gives the replay, and the JSON-lines file.

A history (`History`) is read as a stream, never whole, and may be read more
than once (once per pack). It yields decoded events and keeps, beside them,
every input it could not decode (`BadLine` for a file, `BadMessage` for a
Kafka topic: where it is and why), so one bad input costs that input and the
backtest carries on, like the worker's dead-letter path. ``size`` and
``position`` are in the source's own unit (bytes of a file, messages of a
topic), for a progress bar.

`FileHistory` reads a JSON-lines file in the event contract, one event a line,
in file order; `streams.backtest.kafka.KafkaHistory` reads a topic between two
positions.

>>> import tempfile, pathlib
>>> from rules import encode_event
>>> from streams.simulate import BookSpec, LoanBook
>>> first = next(iter(LoanBook(BookSpec(1, 1, 1))))
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = folder / "events.jsonl"
>>> _ = path.write_bytes(encode_event(first) + b"\\n\\n{oops\\n")
>>> history = FileHistory(path)
>>> [event.type for event in history]
['loan_disbursed']
>>> [(bad.line, bad.reason[:16]) for bad in history.bad_lines]
[(3, '$: not valid JSO')]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rules import Event, EventDecodeError, decode_event
from streams.backtest.exceptions import BacktestError

__all__ = ["BadInput", "BadLine", "BadMessage", "FileHistory", "History"]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of the history file that is not an event: where it is and why."""

    line: int
    reason: str

    @property
    def place(self) -> str:
        return f"line {self.line}"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A Kafka message of the history that is not an event (or is keyed wrongly)."""

    topic: str
    partition: int
    offset: int
    reason: str

    @property
    def place(self) -> str:
        return f"message {self.topic} partition {self.partition} offset {self.offset}"

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "reason": self.reason,
        }


BadInput = BadLine | BadMessage


class History(Protocol):
    """An event history the replay can read, as often as it needs to."""

    @property
    def source(self) -> str:
        """How the report names the history (the file, or the topic and its offsets)."""
        ...

    @property
    def size(self) -> int:
        """How much there is to read, in the unit of ``position``."""
        ...

    @property
    def position(self) -> int:
        """How much the current reading has read so far."""
        ...

    @property
    def bad(self) -> Sequence[BadInput]:
        """The inputs the last complete reading could not decode, in source order."""
        ...

    def __iter__(self) -> Iterator[Event]: ...


@dataclass
class FileHistory:
    """The events of a JSON-lines file, in file order; blank lines are skipped."""

    path: Path
    bad_lines: list[BadLine] = field(default_factory=list)
    position: int = 0
    """Bytes read so far."""

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def bad(self) -> Sequence[BadInput]:
        return self.bad_lines

    def __iter__(self) -> Iterator[Event]:
        self.bad_lines.clear()
        self.position = 0
        try:
            source = self.path.open("rb")
        except OSError as exc:
            raise BacktestError(f"cannot read history {self.path}: {exc.strerror}") from exc
        with source:
            for number, raw in enumerate(source, start=1):
                self.position += len(raw)
                line = raw.strip()
                if not line:
                    continue
                try:
                    yield decode_event(line)
                except EventDecodeError as exc:
                    self.bad_lines.append(BadLine(number, str(exc)))
