"""A batch whose flush failed leaves nothing in memory that the table does not hold.

The worker is built by `streams.app.create_app` (a real Faust app, never started:
nothing here reaches a broker).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from config import load_settings
from streams.app import create_app
from streams.worker import Worker


def _worker(tmp_path: Path) -> Worker:
    settings = load_settings().model_copy(update={"data_dir": tmp_path / "data"})
    app = create_app(settings)
    worker: Worker = app.worker_  # type: ignore[attr-defined]
    return worker


def test_a_failed_flush_forgets_the_batchs_rows_index_and_cached_records(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    rt = worker.rt
    worker.rows.at(1, "events")
    worker.rows[b"L-1"] = b"row judged but never durable"
    assert worker.checkpoints is not None
    worker.checkpoints.at(1, "events")
    worker.checkpoints[b"p1"] = b"checkpoint never durable"
    rt.indexed = True
    rt.index(1).set("L-1", date(2024, 3, 5))
    rt.records.put(b"L-1", b"row judged but never durable", object())  # type: ignore[arg-type]

    worker.forget_batch()

    assert len(worker.rows) == 0 and len(worker.checkpoints) == 0
    assert rt.indexed is False  # rebuilt from the table before the next batch
    assert len(rt.records) == 0
