"""The served process keeps the cyclic collector off its requests (`api.server.quiet_gc`)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc
from api.server import GC_THRESHOLDS, quiet_gc
before = gc.get_freeze_count()
quiet_gc()
assert gc.get_freeze_count() > before + 10_000, gc.get_freeze_count()
assert gc.get_threshold() == GC_THRESHOLDS
garbage = []
garbage.append(garbage)  # a cycle made after the freeze is still collected
del garbage
assert gc.collect() >= 1
"""


def test_the_objects_made_at_start_are_frozen_and_later_cycles_still_collected() -> None:
    # its own interpreter: freezing is for the whole process, and this one runs pytest
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)  # noqa: S603
    assert done.returncode == 0, done.stderr
