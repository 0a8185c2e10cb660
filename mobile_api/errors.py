"""The error body every endpoint documents."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ErrorOut(Schema):
    error: ErrorDetail


def responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """An operation's documented responses: its success plus the error statuses it can give."""
    return {**success, **dict.fromkeys(errors, ErrorOut)}
