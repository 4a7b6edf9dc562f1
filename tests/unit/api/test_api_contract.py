"""The API's shape without services: grants, routes, the OpenAPI document."""

from __future__ import annotations

from api.openapi import DOCUMENT, document, render
from api.roles import GRANTS, Role, allowed, sees_borrower


def _operations() -> dict[str, dict[str, object]]:
    """``"GET /v1/..." -> operation`` from the app's own OpenAPI document."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in document()["paths"].items()
        for method, operation in item.items()
    }


def test_every_v1_route_names_its_roles_and_every_grant_is_a_route() -> None:
    v1 = {name for name in _operations() if name.split(" ")[1].startswith("/v1/")}
    assert v1 == set(GRANTS)


def test_the_probes_need_no_credential_and_every_v1_route_does() -> None:
    for name, operation in _operations().items():
        assert ("security" in operation) == name.split(" ")[1].startswith("/v1/"), name


def test_risk_admins_may_call_everything_and_no_endpoint_admits_every_role_but_loans() -> None:
    for endpoint, roles in GRANTS.items():
        assert allowed(endpoint, Role.RISK_ADMIN)
        assert roles == frozenset(Role) or endpoint != "GET /v1/loans/{loan_id}"
    assert not allowed("GET /v1/unknown", Role.RISK_ADMIN)


def test_only_roles_that_contact_or_book_borrowers_see_their_references() -> None:
    assert {r for r in Role if sees_borrower(r)} == {
        Role.COLLECTOR,
        Role.RISK_ADMIN,
        Role.INTEGRATION,
    }


def test_the_checked_in_openapi_document_is_the_one_the_app_serves() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: run .venv/bin/python -m api.openapi"
    )


def test_the_document_promises_problem_answers_and_no_422() -> None:
    text = render()
    assert '"422"' not in text and "application/problem+json" in text


def test_the_role_table_in_docs_api_md_is_the_grants() -> None:
    text = (DOCUMENT.parent / "api.md").read_text(encoding="utf-8")
    order = [Role.VIEWER, Role.COLLECTOR, Role.ANALYST, Role.RISK_ADMIN, Role.INTEGRATION]
    documented = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and " /v1/" in cells[0]:
            documented[cells[0].strip("`")] = frozenset(
                role for role, cell in zip(order, cells[1:], strict=True) if cell == "yes"
            )
    assert documented == GRANTS
