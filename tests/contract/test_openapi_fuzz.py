"""Schemathesis over both OpenAPI schemas: no 5xx, responses conform to the schema.

Runs in-process against the WSGI app on the real test database — the mobile API as an
authenticated worker, the board's as a supervisor logged in to the board (session cookie
after password + TOTP, and the CSRF token) — with a bounded number of examples per operation
so the suite stays short.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.config.wsgi import application
from tests.board.conftest import BoardClient, enrol
from tests.conftest import World, login

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
board_schema = schemathesis.openapi.from_wsgi("/board/api/openapi.json", application)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def token(world: World) -> str:
    return str(login(world.worker_a.phone)["access_token"])


@pytest.fixture
def board_session(world: World) -> dict[str, str]:
    """The cookies of a board log-in: the session and the CSRF token (sent back as a header)."""
    enrol(world.supervisor_1)
    client = BoardClient()
    client.log_in(world.supervisor_1)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": client.csrf}


FUZZ = settings(
    max_examples=25,
    derandomize=True,  # the same examples on every run: CI is reproducible
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema(case: Any, token: str) -> None:
    if case.path == "/api/v1/auth/logout":
        return  # would end the session the other examples use; covered in test_auth
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@board_schema.parametrize()
@FUZZ
def test_board_api_conforms_to_its_schema(case: Any, board_session: dict[str, str]) -> None:
    case.call_and_validate(
        headers={"X-CSRFToken": board_session["csrftoken"]},
        cookies=board_session,
        checks=CHECKS,
    )
