"""The worker's local table files: kept only after a clean stop.

A loan's new row reaches RocksDB at once, while the step's outputs and the
row's changelog record are still in the producer's buffer. A worker killed in
between leaves rows on disk that Kafka never saw the outputs of (and under
``exactly_once``, rows whose changelog records Kafka aborts with the outputs and
offsets of the same transaction). A restart on those files would find the
redelivered events already applied, take them for duplicates, and never write
their outputs: a restarted at-least-once worker lost a resolved warning so
(tests/integration/test_worker_recovery.py, with the same data folder).

So, under either guarantee, the worker trusts its local files only when the
previous run stopped cleanly (it leaves a mark on the way out, after Faust
flushed the producer); otherwise it deletes them and Faust restores the tables
from the changelog, whose records never run ahead of the outputs sent before
them (under ``exactly_once``, only committed records are read).

>>> import tempfile
>>> from pathlib import Path
>>> data = Path(tempfile.mkdtemp())
>>> (data / "v1" / "tables").mkdir(parents=True)
>>> prepare(data)  # no mark: the last run did not stop cleanly
True
>>> (data / "v1" / "tables").exists()
False
>>> (data / "v1" / "tables").mkdir(parents=True)
>>> mark_clean(data)
>>> prepare(data)  # a clean stop: the files are trusted
False
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from streams.faust_seam import tables_dir

__all__ = ["mark_clean", "prepare"]

log = logging.getLogger("loanwatch.worker")

_MARK = "clean-stop"


def prepare(data_dir: Path) -> bool:
    """Before start: drop table files an unclean stop left; True when it did.

    The clean-stop mark is removed either way, so a crash of this run leaves none.
    """
    mark = data_dir / _MARK
    tables = tables_dir(data_dir)
    wiped = False
    if tables.exists() and not mark.exists():
        log.warning(
            "previous run did not stop cleanly: local tables at %s are rebuilt from the changelog",
            tables,
        )
        shutil.rmtree(tables)
        wiped = True
    mark.unlink(missing_ok=True)
    return wiped


def mark_clean(data_dir: Path) -> None:
    """After a clean stop: the local files match what Kafka committed."""
    if data_dir.exists():
        (data_dir / _MARK).touch()
