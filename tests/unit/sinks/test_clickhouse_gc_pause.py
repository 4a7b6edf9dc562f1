"""The writer pauses cyclic garbage collection for a batch, and always restores it."""

from __future__ import annotations

import gc

import pytest

from sinks.clickhouse.writer import gc_paused


def test_collection_is_paused_inside_and_back_after_even_when_the_batch_raised() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("ClickHouse went away")
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_collection_off_until_the_outer_one_ends() -> None:
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
