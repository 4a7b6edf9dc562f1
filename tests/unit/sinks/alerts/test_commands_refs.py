"""What `alerts ack` and `alerts resolve` accept: a whole ref, or a prefix only one ref has."""

from __future__ import annotations

import pytest

from sinks.alerts.commands import unique_prefix
from sinks.alerts.exceptions import AlertError

KNOWN = {"3f9c0a1b2c3d", "3f9d11223344", "a1b2c3d4e5f6a1b2c3d4e5f6"}


def test_a_whole_ref_is_taken_as_it_is() -> None:
    assert unique_prefix("3f9c0a1b2c3d", KNOWN) == "3f9c0a1b2c3d"


def test_a_prefix_only_one_ref_has_names_that_ref() -> None:
    assert unique_prefix("3f9c", KNOWN) == "3f9c0a1b2c3d"
    assert unique_prefix("a1b2c3", KNOWN) == "a1b2c3d4e5f6a1b2c3d4e5f6"


def test_a_prefix_several_refs_share_is_refused_naming_them() -> None:
    with pytest.raises(
        AlertError, match=r"^ref: '3f9' starts 2 refs \(3f9c0a1b2c3d, 3f9d11223344\)"
    ):
        unique_prefix("3f9", KNOWN)


def test_an_unknown_ref_is_passed_on_for_the_service_to_refuse() -> None:
    assert unique_prefix("ffff", KNOWN) == "ffff"
