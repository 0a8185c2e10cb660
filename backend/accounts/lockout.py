"""The response django-axes gives a locked-out account, in our error format."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from backend.core.errors import error_body


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("account_locked"), status=429)
