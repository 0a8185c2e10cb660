"""Bearer access tokens for phones; the caller's user and scope from the request."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer

from backend.accounts.actions import session_for_access_token
from backend.accounts.models import MobileSession, User
from backend.accounts.selectors import scope_for
from backend.alerts.signing import SignedRequest, check_signed_request
from backend.territory.scope import Scope


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> MobileSession:
        return session_for_access_token(token)


def caller(request: HttpRequest) -> User:
    session: MobileSession = request.auth  # type: ignore[attr-defined]
    return session.user


def caller_scope(request: HttpRequest) -> Scope:
    return scope_for(caller(request))


class DeviceSignature(APIKeyHeader):
    """HMAC-signed device requests (see backend/alerts/signing.py); runs before the body is
    parsed, so an unsigned request learns nothing about validation."""

    param_name = "X-Signature"

    def authenticate(self, request: HttpRequest, key: str | None) -> SignedRequest:
        return check_signed_request(
            device_id=request.headers.get("X-Device-Id"),
            timestamp=request.headers.get("X-Timestamp"),
            nonce=request.headers.get("X-Nonce"),
            signature=key,
            method=request.method or "",
            path=request.path,
            body=request.body,
        )

    def __call__(self, request: HttpRequest) -> SignedRequest:
        return self.authenticate(request, request.headers.get(self.param_name))


def signed_request(request: HttpRequest) -> SignedRequest:
    """The signed device request; the action it calls records its nonce."""
    signed: SignedRequest = request.auth  # type: ignore[attr-defined]
    return signed
