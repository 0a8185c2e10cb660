"""Who is looking at the board: a Django session whose user passed the password and the TOTP
code, holding a live board session row (revoked at log-out, which closes its socket)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from backend.accounts.actions import BOARD_ROLES, live_board_session
from backend.accounts.models import MobileSession, User
from backend.core.errors import ApiError, error_body

SESSION_SID = "board_sid"


def board_user(request: HttpRequest) -> tuple[User, MobileSession] | None:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    if not user.is_verified() or user.role not in BOARD_ROLES:  # type: ignore[attr-defined]
        return None
    session = live_board_session(request.session.get(SESSION_SID), user)
    return (user, session) if session is not None else None


BoardView = Callable[..., Any]


def board_api(*methods: str) -> Callable[[BoardView], Callable[..., HttpResponse]]:
    """A JSON endpoint of the board: the project's error body, 401 without a verified board
    session, 405 for other methods. The view gets (request, user, session, **kwargs)."""

    def wrap(view: BoardView) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return JsonResponse(error_body("method_not_allowed"), status=405)
            who = board_user(request)
            if who is None:
                return JsonResponse(error_body("not_authenticated"), status=401)
            try:
                result = view(request, *who, **kwargs)
            except ApiError as exc:
                return JsonResponse(exc.body(), status=exc.status)
            return JsonResponse(result, safe=False, json_dumps_params={"ensure_ascii": False})

        return inner

    return wrap


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_json", status=400) from exc
    if not isinstance(body, dict):
        raise ApiError("invalid_json", status=400)
    return body
