"""Bearer access tokens for phones; the caller's user and scope from the request."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from backend.accounts.actions import session_for_access_token
from backend.accounts.models import MobileSession, User
from backend.accounts.selectors import Scope, scope_for


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> MobileSession:
        return session_for_access_token(token)


def caller(request: HttpRequest) -> User:
    session: MobileSession = request.auth  # type: ignore[attr-defined]
    return session.user


def caller_scope(request: HttpRequest) -> Scope:
    return scope_for(caller(request))
