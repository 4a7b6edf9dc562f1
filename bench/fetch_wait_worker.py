"""`loanwatch worker` with its consumer's fetch wait set: an experiment of `bench/stream.py`.

Faust (faust-streaming 0.15.3, `faust/transport/drivers/aiokafka.py`) creates
the worker's aiokafka consumer with ``fetch_max_wait_ms=1500``, a constant no
setting reaches. aiokafka keeps one fetch request in flight per broker and
leaves a partition out of it while that partition still has records waiting
to be consumed; once they are consumed, the partition's next records wait
until the request in flight returns, which the broker holds up to the fetch
wait when the other partitions have nothing new. This runs the worker with
that wait replaced by ``BENCH_FETCH_MAX_WAIT_MS`` (in every aiokafka consumer of
the process), so runs of the bench with and without it can be compared
(``bench/stream.py --fetch-wait-ms``). An experiment only: were it kept, the
worker would pass the value itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on sys.path, and bench/models.py would shadow models/.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import aiokafka  # noqa: E402

from streams.cli import main  # noqa: E402

_WAIT_MS = int(os.environ["BENCH_FETCH_MAX_WAIT_MS"])
_init = aiokafka.AIOKafkaConsumer.__init__


def _init_with_wait(self: aiokafka.AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
    kwargs["fetch_max_wait_ms"] = _WAIT_MS
    _init(self, *args, **kwargs)


aiokafka.AIOKafkaConsumer.__init__ = _init_with_wait  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
