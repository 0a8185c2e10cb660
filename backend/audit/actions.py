"""Writes to the audit trail."""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from .models import AuditEvent


@cache
def _proxies(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _proxies(tuple(settings.TRUSTED_PROXIES)))


def ip_of(request: HttpRequest) -> str | None:
    """The caller's address as this server sees it: the peer (REMOTE_ADDR); behind a proxy
    listed in TRUSTED_PROXIES, the nearest X-Forwarded-For entry that is not such a proxy.
    A header the caller writes alone is never taken for where they are."""
    address = str(request.META.get("REMOTE_ADDR") or "")
    if _trusted(address):
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            address = hop
            if not _trusted(hop):
                break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_of(request: HttpRequest) -> str:
    """Where from, for the audit trail: the server's view of the address first, then what the
    client says it is (X-Client or User-Agent), marked as its claim."""
    claim = request.headers.get("X-Client") or request.headers.get("User-Agent") or ""
    return f"{ip_of(request) or '-'} claims: {claim}"[:200]


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
