"""Property tests of the routing file and durations: any text loads, or fails naming file:line.

Random YAML (texts, and structures shaped like a routing file with random values)
must give an `AlertConfig` or an `AlertConfigError` whose message starts with
``<file>:<line>:`` (or, for a fault of the whole document, ``<file>:``), never any
other exception. `parse_duration` gives seconds within its bound or an
`AlertConfigError`. Target ``alert_routes`` keeps the YAML text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinks.alerts.durations import MAX_DURATION_S, parse_duration
from sinks.alerts.exceptions import AlertConfigError
from sinks.alerts.routing import AlertConfig
from sinks.alerts.routing_file import load_config

TARGET = "alert_routes"
PLACED = re.compile(r"^(?P<file>.+?):(?P<line>\d+): ")
UNPLACED = (
    "expected a mapping of routing keys at the top level",
    "route: required key is missing",
    "a value refers to itself (a recursive alias)",
)
"""The refusals with no line of their own: of the document as a whole, or of the one key
it must have (the form `rules.yaml_config.validate_yaml` gives every configuration file)."""

_TEXT = st.text(max_size=20)
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT
    | st.sampled_from(["ops", "30s", "99999999999h", "1e400", 'team="x"', "rule=~(", "09:00",
                       "24:00", "mon-fri", "Asia/Shanghai", "../../etc/passwd", "${NOPE}"])
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SCALARS.filter(
        lambda k: isinstance(k, str | int | bool) or k is None), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip


def _maybe(entries: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: v | _VALUES for k, v in entries.items()})


_RECEIVER = _maybe(
    {
        "name": st.just("ops"),
        "urls": st.just(["json://127.0.0.1:9/x"]),
        "dingtalk": st.just({"token": "t"}),
        "language": st.sampled_from(["en", "zh-CN"]),
        "rate_limit": st.just({"count": 5, "per": "1m"}),
        "max_batch": st.just(3),
    }
)
_ROUTE = st.recursive(
    _maybe({"receiver": st.just("ops"), "group_wait": st.just("1s"), "group_by": st.just(["team"]),
            "matchers": st.just(['team="x"']), "mute_windows": st.just(["night"]),
            "escalation": st.just("esc")}),
    lambda inner: _maybe({"receiver": st.just("ops"), "routes": st.lists(inner, max_size=2)}),
    max_leaves=4,
)  # fmt: skip
_FILE = _maybe(
    {
        "route": _ROUTE,
        "receivers": st.lists(_RECEIVER, max_size=2),
        "mute_windows": st.just(
            {"night": {"intervals": [{"times": [{"start": "22:00", "end": "06:00"}]}]}}
        ),
        "escalation_policies": st.just({"esc": {"levels": [{"after": "5m", "receiver": "ops"}]}}),
        "inhibit_rules": st.just([{"source_matchers": ['severity="critical"']}]),
        "ack_url": st.just("http://x"),
    }
)  # fmt: skip
_TEXTS = st.one_of(
    _FILE.map(lambda raw: yaml.safe_dump(raw, allow_unicode=True)),
    _VALUES.map(lambda raw: yaml.safe_dump(raw, allow_unicode=True)),
    st.text(max_size=200),
    st.sampled_from(["route: &r {receiver: ops, routes: [*r]}", "[" * 2000, "a: !!python/tuple []",
                     "a: 2024-13-45", "route: {receiver: ops}\nreceivers: 5"]),
).map(lambda text: text.encode("utf-8", "surrogatepass"))  # fmt: skip


def check(data: bytes, folder: Path) -> None:
    path = folder / "alerts.yaml"
    path.write_bytes(data)
    try:
        loaded = load_config(path)
    except AlertConfigError as exc:
        if str(exc).startswith(tuple(f"{path}: {reason}" for reason in UNPLACED)):
            return
        placed = PLACED.match(str(exc))
        assert placed and placed["file"] == str(path), str(exc)
        # YAML breaks lines at \r and at Unicode line separators too, not only at \n.
        lines = len(data.decode("utf-8", "replace").splitlines()) + 1
        assert 1 <= int(placed["line"]) <= lines, str(exc)
        return
    assert isinstance(loaded, AlertConfig)


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=_TEXTS)
def test_any_routing_text_loads_or_fails_naming_file_and_line(
    data: bytes, tmp_path: Path, fuzz_corpus: Any
) -> None:
    with fuzz_corpus.watch(TARGET, data):
        check(data, tmp_path)


def test_kept_routing_texts_load_or_fail_naming_file_and_line(
    tmp_path: Path, fuzz_corpus: Any
) -> None:
    for name, data in fuzz_corpus.cases(TARGET):
        try:
            check(data, tmp_path)
        except AssertionError as exc:
            raise AssertionError(f"tests/fuzz_corpus/{TARGET}/{name}: {exc}") from exc


@pytest.mark.fuzz
@given(value=_VALUES | st.text(alphabet="0123456789.smhd -", max_size=30))
def test_any_duration_is_seconds_within_the_bound_or_an_alert_error(value: Any) -> None:
    try:
        seconds = parse_duration(value, "duration")
    except AlertConfigError as exc:
        assert str(exc).startswith("duration: ")
        return
    assert 0 <= seconds <= MAX_DURATION_S


def test_an_absurd_duration_names_the_field_and_the_bound() -> None:
    for value in ("99999999999h", 10**400, float("inf"), float("nan"), "9" * 400):
        with pytest.raises(AlertConfigError, match=r"^duration: "):
            parse_duration(value, "duration")
    with pytest.raises(AlertConfigError, match=r"^--for: at most 90d, got '91d'"):
        parse_duration("91d", "--for", 90 * 86400)


def test_a_duration_in_text_needs_its_unit_and_a_number_is_seconds() -> None:
    with pytest.raises(AlertConfigError, match=r"^--for: expected a duration with its unit"):
        parse_duration("2", "--for")  # two hours, or two seconds? Say which.
    assert parse_duration("2h", "--for") == 7200.0
    assert parse_duration(2, "group_wait") == 2.0  # a YAML number: seconds


def test_a_routing_error_names_the_file_and_the_line_of_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "route:\n  receiver: ops\n  routes:\n    - receiver: ops\n      group_wait: soon\n"
        "receivers:\n  - name: ops\n    urls: ['json://127.0.0.1:9/x']\n"
    )
    with pytest.raises(
        AlertConfigError, match=rf"^{re.escape(str(path))}:5: route.routes.0.group_wait: expected"
    ):
        load_config(path)
