"""The error body every endpoint documents."""

from __future__ import annotations

from typing import Any

from ninja import Schema

from backend.core.errors import MESSAGES


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
