"""The project's error body for a Django Ninja API, installed on every NinjaAPI (the mobile
API at /api/v1 and the board's at /board/api).

Every failure a Ninja API can meet — our `ApiError`, validation, auth, an unparsable body, a
404, anything unexpected — goes through the one mapping of backend/core/errors.py
(`error_response`) to `{"error": {"code", "message", "fields"}}` in the caller's language;
`ErrorOut` and `responses` document that body in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from .errors import MESSAGES, ApiError, error_response


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


def as_api_error(exc: Exception) -> Exception:
    """Ninja's own exceptions as `ApiError`; everything else goes to the one mapping as is."""
    if isinstance(exc, ValidationError):
        fields: dict[str, str] = {}
        for error in exc.errors:
            fields.setdefault(field_name(error.get("loc", ())), reason_code(error))
        return ApiError("validation_error", status=422, fields=fields)
    if isinstance(exc, AuthenticationError):
        return ApiError("not_authenticated", status=401)
    if isinstance(exc, HttpError):
        code = _HTTP_CODES.get(exc.status_code, "validation_error")
        return ApiError(code, status=exc.status_code)
    return exc


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every failure of `api` with the project's error body, through `error_response`.
    Ninja picks the handler registered for the most specific class and registers defaults of
    its own for these, so the one handler replaces each of them."""

    def on_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(request, as_api_error(exc))

    for kind in (Exception, ApiError, ValidationError, HttpError, Http404):
        api.exception_handler(kind)(on_error)
