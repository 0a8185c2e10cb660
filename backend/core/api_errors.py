"""The project's error body for a Django Ninja API: one mapping, installed on every NinjaAPI
(the mobile API at /api/v1 and the board's at /board/api).

Every failure a Ninja API can meet — our `ApiError`, validation, auth, an unparsable body, a
404, anything unexpected — becomes `{"error": {"code", "message", "fields"}}` in the caller's
language; `ErrorOut` and `responses` document that body in the OpenAPI schema.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from psycopg_pool import PoolTimeout

from .errors import MESSAGES, ApiError, error_body, message

logger = logging.getLogger(__name__)


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ErrorOut(Schema):
    error: ErrorDetail


def responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """An operation's documented responses: its success plus the error statuses it can give."""
    return {**success, **dict.fromkeys(errors, ErrorOut)}


_REASONS = {
    "missing": "field_required",
    "string_too_long": "field_too_long",
    "too_long": "field_too_long",
    "string_too_short": "field_too_short",
    "too_short": "field_too_short",
    "greater_than": "field_out_of_range",
    "greater_than_equal": "field_out_of_range",
    "less_than": "field_out_of_range",
    "less_than_equal": "field_out_of_range",
}


def reason_code(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "value_error":
        code = str(error.get("ctx", {}).get("error", ""))
        return code if code in MESSAGES else "field_invalid"
    if kind in _REASONS:
        return _REASONS[kind]
    if kind.endswith(("_type", "_parsing")):
        return "field_wrong_type"
    return "field_invalid"


def field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body" and len(parts) > 2:
        parts = parts[2:]  # ["body", <param name>, field, ...]
    elif parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


_HTTP_CODES = {
    400: "invalid_json",
    401: "not_authenticated",
    403: "permission_denied",  # also Ninja's "CSRF check Failed" of cookie auth
    404: "not_found",
    405: "method_not_allowed",
}


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every failure of `api` with the project's error body."""

    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(ApiError)
    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, exc.body())

    @api.exception_handler(ValidationError)
    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields: dict[str, str] = {}
        for error in exc.errors:
            fields.setdefault(field_name(error.get("loc", ())), message(reason_code(error)))
        return respond(request, 422, error_body("validation_error", fields))

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc, AuthenticationError):
            return respond(request, 401, error_body("not_authenticated"))
        code = _HTTP_CODES.get(exc.status_code, "validation_error")
        return respond(request, exc.status_code, error_body(code))

    @api.exception_handler(MultiPartParserError)
    def on_unparsable_body(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        return respond(request, 400, error_body("invalid_json"))

    @api.exception_handler(Http404)
    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, error_body("not_found"))

    @api.exception_handler(Exception)
    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc.__cause__, PoolTimeout):
            # Every database connection of this process is busy (a burst): nothing was
            # written, and a device or phone should simply retry — with the same client id.
            logger.warning("database pool exhausted on %s %s", request.method, request.path)
            response = respond(request, 503, error_body("service_busy"))
            response["Retry-After"] = "2"
            return response
        logger.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return respond(request, 500, error_body("internal_error"))
