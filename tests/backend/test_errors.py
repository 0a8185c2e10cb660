"""The one error mapping: every transport answers the same JSON error for the same failure."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from django.test import Client, RequestFactory

from backend.core.errors import ApiError, error_response

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v2/alerts", "/api/", "/api/v1x"])
def test_unknown_paths_under_api_answer_the_json_404_also_with_debug_on(
    settings: Any, debug: bool, path: str
) -> None:
    settings.DEBUG = debug
    response = Client().get(path, headers={"accept-language": "en"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "fields": {}}
    }


def test_unknown_paths_elsewhere_answer_the_json_404_in_the_default_language() -> None:
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "未找到该资源。",
        "fields": {},
    }


def test_a_forged_photo_link_is_the_same_json_404() -> None:
    response = Client().get("/photos/forged-token", headers={"accept-language": "en"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ApiError("alert_wrong_state", status=409), 409, "alert_wrong_state"),
        (Http404(), 404, "not_found"),
        (PermissionDenied(), 403, "permission_denied"),
        (RequestDataTooBig(), 413, "payload_too_large"),
        (OperationalError("database is locked"), 503, "service_busy"),
        (ValueError("a bug"), 500, "internal_error"),
    ],
)
def test_every_exception_maps_to_one_status_and_code(
    exc: Exception, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="backend.core.errors"):
        response = error_response(RequestFactory().post("/api/v1/device/alerts"), exc)
    assert response.status_code == status
    assert b'"code": "%s"' % code.encode() in response.content
    assert ("Retry-After" in response) == (status == 503)
    # Only the unexpected is logged with its traceback; a refusal is not an error of ours.
    assert [r.exc_info is not None for r in caplog.records if r.levelno >= logging.ERROR] == (
        [True] if status == 500 else []
    )
