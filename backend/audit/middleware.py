"""One audit row for every write request (POST, PUT, PATCH, DELETE): who (the session's or
token's user), what (method, path, status), when, from where, result. Admin writes are
`admin_change`. Signed device requests are left out — a press or heartbeat is recorded by
its own rows (the alert and its timeline; the device's last-heard time) and their query
count is pinned — and so are log-ins, which the lock-out records with the phone tried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from .actions import do_record
from .models import AuditEvent

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED = ("/api/", "/board/", "/admin/", "/open311/")
SKIPPED = ("/api/v1/device/", "/api/v1/auth/login", "/board/login/")


def _actor(request: HttpRequest) -> AbstractBaseUser | None:
    auth = getattr(request, "auth", None)
    user = getattr(auth, "user", None)
    if isinstance(user, AbstractBaseUser):
        return user
    user = getattr(request, "user", None)
    if isinstance(user, AbstractBaseUser) and user.is_authenticated:
        return user
    return None


def audits(request: HttpRequest) -> bool:
    path = request.path
    return request.method in WRITES and path.startswith(AUDITED) and not path.startswith(SKIPPED)


def record_write(request: HttpRequest, response: HttpResponse) -> None:
    status = response.status_code
    result = (
        AuditEvent.Result.OK
        if status < 400
        else AuditEvent.Result.FAILED
        if status >= 500
        else AuditEvent.Result.REFUSED
    )
    admin = request.path.startswith("/admin/")
    do_record(
        action=AuditEvent.Action.ADMIN_CHANGE if admin else AuditEvent.Action.WRITE,
        actor=_actor(request),
        detail=f"{request.method} {request.path} {status}",
        result=result,
        request=request,
    )


@sync_and_async_middleware
def audit_writes(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            response: HttpResponse = await get_response(request)
            if audits(request):
                await sync_to_async(record_write)(request, response)
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = get_response(request)
        if audits(request):
            record_write(request, response)
        return response

    return middleware
