"""The response django-axes gives a locked-out account, in our error format."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

from backend.core.errors import error_body, message


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.startswith("/board/") and not request.path.startswith("/board/api/"):
        # The board's log-in form is a page: answer with a page, not JSON.
        text = escape(message("account_locked"))
        return HttpResponse(
            f'<!doctype html><meta charset="utf-8"><p role="alert">{text}</p>'
            '<p><a href="/board/login/">←</a></p>',
            status=429,
        )
    return JsonResponse(error_body("account_locked"), status=429)
