"""Suite-wide settings: how hard the property tests push, and the fuzz corpus.

Every parser of outside input (events, rule packs, policies, alert routes, the
HTTP endpoints) has property tests marked ``fuzz``. ``make test`` runs each
with a bounded, repeatable number of cases (hypothesis profile ``ci``);
``make fuzz`` runs only them, longer and randomly (profile ``fuzz``), and keeps
the shortest input behind each failure in ``tests/fuzz_corpus/<target>/``. The
kept inputs are replayed by ordinary tests, so a bug found once stays found
after it is fixed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

CORPUS = Path(__file__).parent / "fuzz_corpus"
"""Inputs that once broke a parser, one folder per target, one file per input."""

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,  # a noisy 2-core machine: time limits would flake, not find bugs
    derandomize=True,  # the same cases every run: a red `make test` is never luck
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class Corpus:
    """The kept inputs of every fuzz target, and the keeper of new failures."""

    def __init__(self, root: Path, keeping: bool) -> None:
        self.root = root
        self.keeping = keeping
        self._found: dict[tuple[str, str], bytes] = {}

    def cases(self, target: str) -> list[tuple[str, bytes]]:
        """Every kept input of ``target`` as (file name, bytes), in name order."""
        folder = self.root / target
        if not folder.is_dir():
            return []
        return [(path.name, path.read_bytes()) for path in sorted(folder.glob("*.bin"))]

    @contextmanager
    def watch(self, target: str, data: bytes) -> Iterator[None]:
        """Run one case; under ``make fuzz`` remember the shortest input per kind of failure."""
        try:
            yield
        except BaseException as exc:
            if self.keeping:
                kind = (target, type(exc).__name__)
                known = self._found.get(kind)
                if known is None or len(data) < len(known):
                    self._found[kind] = data
            raise

    def write(self) -> list[Path]:
        """Store the remembered failures; a file's name is its content's digest."""
        written = []
        for (target, _), data in sorted(self._found.items()):
            folder = self.root / target
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.bin"
            path.write_bytes(data)
            written.append(path)
        return written


@pytest.fixture(scope="session")
def fuzz_corpus() -> Iterator[Corpus]:
    corpus = Corpus(CORPUS, keeping=os.environ.get("FUZZ_KEEP") == "1")
    yield corpus
    for path in corpus.write():
        print(f"\nkept failing input {path.relative_to(CORPUS.parent.parent)}")


# -- Backtest runs in ClickHouse: shared by the 18.16 and the chdb (current release) tests --


@pytest.fixture
def raised_pack(tmp_path: Path) -> Path:
    """The built-in pack as version 3 with ``dpd_1`` raised from low to high (it pages)."""
    from importlib import resources

    text = resources.files("rules").joinpath("packs", "default.yaml").read_text("utf-8")
    low = '    severity: low\n    message: "Past due: {loan.dpd} days'
    assert text.count(low) == 1 and text.count("\n  version: 2\n") == 1
    text = text.replace(low, low.replace("low", "high")).replace(
        "\n  version: 2\n", "\n  version: 3\n"
    )
    path = tmp_path / "raised.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def backtest_queries() -> tuple[str, str]:
    """docs/analytics.md's two backtest queries: per rule across runs, and a pack's changes."""
    import re

    text = (Path(__file__).parents[1] / "docs" / "analytics.md").read_text()
    across, changes = [
        q for q in re.findall(r"```sql\n(.*?)```", text, re.DOTALL) if "backtest_" in q
    ]
    return across, changes
