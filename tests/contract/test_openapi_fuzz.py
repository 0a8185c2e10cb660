"""Schemathesis over the whole OpenAPI schema: no 5xx, responses conform to the schema.

Runs in-process against the WSGI app on the real test database, as an authenticated worker,
with a bounded number of examples per operation so the suite stays short.
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
from tests.conftest import World, login

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def token(world: World) -> str:
    return str(login(world.worker_a.phone)["access_token"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,  # the same examples on every run: CI is reproducible
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, token: str) -> None:
    if case.path == "/api/v1/auth/logout":
        return  # would end the session the other examples use; covered in test_auth
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
