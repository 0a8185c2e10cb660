"""Writes to the audit trail."""

from __future__ import annotations

from django.http import HttpRequest

from backend.accounts.models import User

from .models import AuditEvent


def client_of(request: HttpRequest) -> str:
    return (request.headers.get("X-Client") or request.headers.get("User-Agent") or "")[:200]


def do_record_read(
    *,
    actor: User,
    action: str,
    target_type: str,
    target_id: int,
    client: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """One read of personal data. Selectors call it where they read, so every reader is
    audited, whichever transport asked."""
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        client=client[:200],
        ip=ip or None,
    )
