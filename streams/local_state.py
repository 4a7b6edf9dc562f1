"""The worker's local table files under exactly_once: kept only after a clean stop.

RocksDB writes are not transactional. A worker killed mid-transaction leaves
rows on disk whose changelog records Kafka then aborts, together with the
outputs and offsets of the same transaction. A restart on those files would
skip the aborted events as already seen, and their outputs would never be
written. Under ``exactly_once`` the worker therefore trusts its local files only
when the previous run stopped cleanly (it leaves a mark on the way out);
otherwise it deletes them and Faust restores the tables from the changelog,
reading only committed records. At-least-once needs none of this: replayed
events repeat their outputs with the same ids.

>>> import tempfile
>>> from pathlib import Path
>>> data = Path(tempfile.mkdtemp())
>>> (data / "v1" / "tables").mkdir(parents=True)
>>> prepare(data, exactly_once=True)  # no mark: the last run did not stop cleanly
True
>>> (data / "v1" / "tables").exists()
False
>>> (data / "v1" / "tables").mkdir(parents=True)
>>> mark_clean(data)
>>> prepare(data, exactly_once=True)  # a clean stop: the files are trusted
False
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

__all__ = ["mark_clean", "prepare"]

log = logging.getLogger("loanwatch.worker")

_MARK = "clean-stop"


def _tables(data_dir: Path) -> Path:
    return data_dir / "v1" / "tables"  # Faust's tabledir under our datadir


def prepare(data_dir: Path, *, exactly_once: bool) -> bool:
    """Before start: drop table files an unclean stop left; True when it did.

    The clean-stop mark is removed either way, so a crash of this run leaves none.
    """
    mark = data_dir / _MARK
    tables = _tables(data_dir)
    wiped = False
    if exactly_once and tables.exists() and not mark.exists():
        log.warning(
            "previous run did not stop cleanly: local tables at %s are rebuilt from "
            "the changelog (exactly_once)",
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
