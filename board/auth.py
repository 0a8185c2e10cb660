"""Who is looking at the board: a Django session whose user passed the password and the TOTP
code, holding a live board session row (revoked at log-out, which closes its socket)."""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie

from backend.accounts.actions import BOARD_ROLES, live_board_session
from backend.accounts.models import MobileSession, User

SESSION_SID = "board_sid"


class BoardCaller(NamedTuple):
    user: User
    session: MobileSession


def board_user(request: HttpRequest) -> BoardCaller | None:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    if not user.is_verified() or user.role not in BOARD_ROLES:  # type: ignore[attr-defined]
        return None
    session = live_board_session(request.session.get(SESSION_SID), user)
    return BoardCaller(user, session) if session is not None else None


class BoardSession(APIKeyCookie):
    """The board's API auth: the Django session cookie of a board log-in (password, then the
    TOTP code django-otp verified), and Django's CSRF check on unsafe methods (the page sends
    the token as X-CSRFToken) — a failed check is 403 before anything is read."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> BoardCaller | None:
        return board_user(request)


def board_caller(request: HttpRequest) -> BoardCaller:
    caller: BoardCaller = request.auth  # type: ignore[attr-defined]
    return caller
