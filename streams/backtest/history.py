"""Reading an event history: a JSON-lines file in the event contract, one event a line.

A history is read as a stream, never whole: `FileHistory` yields the decoded
events in file order and keeps, beside them, every line it could not decode
(`BadLine`: its number and why), so one bad line costs that line and the
backtest carries on, like the worker's dead-letter path. ``position`` is the
number of bytes read so far, for a progress bar over the file's size.

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

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rules import Event, EventDecodeError, decode_event
from streams.backtest.exceptions import BacktestError

__all__ = ["BadLine", "FileHistory"]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of the history that is not an event: where it is and why."""

    line: int
    reason: str


@dataclass
class FileHistory:
    """The events of a JSON-lines file, in file order; blank lines are skipped."""

    path: Path
    bad_lines: list[BadLine] = field(default_factory=list)
    position: int = 0
    """Bytes read so far."""

    @property
    def size(self) -> int:
        return self.path.stat().st_size

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
