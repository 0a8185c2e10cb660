"""Writes to the audit trail."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from .models import AuditEvent


def client_of(request: HttpRequest) -> str:
    return (request.headers.get("X-Client") or request.headers.get("User-Agent") or "")[:200]


def do_record_read(
    *,
    actor: AbstractBaseUser,
    action: str,
    target_type: str,
    target_id: int,
    client: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """One read of personal data. Selectors call it where they read, so every reader is
    audited, whichever transport asked."""
    return AuditEvent.objects.create(
        actor_id=actor.pk,
        action=action,
        target_type=target_type,
        target_id=target_id,
        client=client[:200],
        ip=ip or None,
    )
