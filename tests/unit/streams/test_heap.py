"""The worker's heap keeper: collect, freeze the survivors, and again when due."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.heap import HeapKeeper


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # never leave the test process frozen


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_frees_cyclic_garbage_and_freezes_what_survived() -> None:
    keeper = HeapKeeper(600)
    dropped = Cycle()
    gone = weakref.ref(dropped)
    del dropped
    assert keeper.settle() >= 0
    assert gone() is None
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert len(gc.get_objects()) < frozen  # later collections walk only the new objects
    assert keeper.settled_at is not None


def test_garbage_frozen_by_one_settle_is_freed_by_the_next() -> None:
    keeper = HeapKeeper(600)
    doomed = Cycle()
    alive = weakref.ref(doomed)
    keeper.settle()
    del doomed
    gc.collect()
    assert alive() is not None  # frozen: ordinary collections do not walk it
    keeper.settle()
    assert alive() is None


def test_due_after_the_interval_and_never_when_turned_off() -> None:
    now = [100.0]
    keeper = HeapKeeper(600, clock=lambda: now[0])
    assert keeper.due()  # never settled yet
    keeper.settle()
    now[0] += 599
    assert not keeper.due()
    now[0] += 1
    assert keeper.due()
    gc.unfreeze()
    off = HeapKeeper(0, clock=lambda: now[0])
    assert not off.due()
    assert off.settle() == 0.0
    assert off.settled_at is None and gc.get_freeze_count() == 0
