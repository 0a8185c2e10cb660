"""Writes to the audit trail: one INSERT per audited request; sealing (the hash chain),
verification and archiving run outside requests."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import AuditAnchor, AuditEvent, AuditSeal


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


def do_record(
    *,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    target_type: str = "",
    target_id: int | None = None,
    target_ids: list[int] | None = None,
    detail: str = "",
    result: str = AuditEvent.Result.OK,
    request: HttpRequest | None = None,
    client: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """One audit row; `request` gives where from (the server's view of the address)."""
    if request is not None:
        client, ip = client_of(request), ip_of(request)
    return AuditEvent.objects.create(
        actor_id=actor.pk if actor is not None else None,
        actor_label=actor_label[:200],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_ids=target_ids or [],
        detail=detail[:300],
        result=result,
        client=client[:200],
        ip=ip or None,
    )


def do_record_read(
    *,
    actor: AbstractBaseUser,
    action: str,
    target_type: str,
    target_id: int | None = None,
    target_ids: list[int] | None = None,
    client: str = "",
    ip: str | None = None,
    request: HttpRequest | None = None,
    detail: str = "",
) -> AuditEvent:
    """One read of personal data (a list page: one row naming its ids). Selectors call it
    where they read, so every reader is audited, whichever transport asked. With a request
    and no `detail`, the row says which endpoint read (method and path, never the query)."""
    if not detail and request is not None:
        detail = f"{request.method} {request.path}"
    return do_record(
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        target_ids=target_ids,
        detail=detail,
        client=client,
        ip=ip,
        request=request,
    )


def seen(ids: Iterable[int | None]) -> list[int]:
    """The distinct ids in `ids` (None left out), in the order first seen: the residents a
    read showed, for `target_ids`."""
    return [i for i in dict.fromkeys(ids) if i is not None]


# -- the hash chain ----------------------------------------------------------------------------

GENESIS = "0" * 64
SEAL_AFTER = timedelta(seconds=30)  # a row's transaction has committed by then


def seal_events(*, limit: int = 5000) -> int:
    """Seal the rows written since the last seal, in id order. Rows younger than SEAL_AFTER
    wait: an id taken by a transaction still open must not be skipped. One sealer at a time
    (a row lock on the newest seal, or the first row)."""
    sealed = 0
    with transaction.atomic():
        last = AuditSeal.objects.select_for_update().order_by("-event_id").first()
        previous = last.digest if last else GENESIS
        after = last.event_id if last else 0
        events = AuditEvent.objects.filter(
            pk__gt=after, at__lt=timezone.now() - SEAL_AFTER
        ).order_by("pk")[:limit]
        seals = []
        for event in events:
            previous = AuditSeal.chain(previous, event)
            seals.append(AuditSeal(event=event, digest=previous))
        AuditSeal.objects.bulk_create(seals)
        sealed = len(seals)
    return sealed


@dataclass
class Verdict:
    checked: int
    broken_at: int | None  # the first event id whose seal does not match
    reason: str
    unsealed: int


def verify_chain() -> Verdict:
    """Recompute the chain from the rows (from the last archive's anchor); the first row that
    was changed, removed (a gap in the sealed ids) or slipped in breaks it."""
    anchor = AuditAnchor.objects.order_by("-through_event_id").first()
    previous = anchor.digest if anchor else GENESIS
    after = anchor.through_event_id if anchor else 0
    checked = 0
    seals = AuditSeal.objects.filter(event_id__gt=after).order_by("event_id")
    events = AuditEvent.objects.filter(pk__gt=after).order_by("pk")
    event_iter = events.iterator(chunk_size=2000)
    for seal in seals.iterator(chunk_size=2000):
        event = next(event_iter, None)
        if event is None or event.pk != seal.event_id:
            at = seal.event_id if event is None else min(event.pk, seal.event_id)
            return Verdict(checked, at, "row missing or inserted", 0)
        previous = AuditSeal.chain(previous, event)
        if previous != seal.digest:
            return Verdict(checked, event.pk, "row changed", 0)
        checked += 1
    unsealed = sum(1 for _ in event_iter)
    return Verdict(checked, None, "", unsealed)


# -- retention: archive, then delete ----------------------------------------------------------


def do_archive(*, directory: Path, now: datetime | None = None) -> tuple[Path | None, int]:
    """Write the sealed rows older than AUDIT_RETENTION_DAYS (at least 180) to a JSON-lines
    file with their seals (the chain can be checked from the file), then delete them; the
    triggers refuse to delete anything younger than 180 days."""
    days = max(180, int(settings.AUDIT_RETENTION_DAYS))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        seals = list(
            AuditSeal.objects.select_related("event")
            .filter(event__at__lt=cutoff)
            .order_by("event_id")
        )
        if not seals:
            return None, 0
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"audit-{seals[0].event_id}-{seals[-1].event_id}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for seal in seals:
                row = json.loads(seal.event.canonical())
                out.write(json.dumps({"row": row, "digest": seal.digest}, ensure_ascii=False))
                out.write("\n")
        os.chmod(path, 0o600)
        ids = [s.event_id for s in seals]
        AuditAnchor.objects.create(
            through_event_id=seals[-1].event_id, digest=seals[-1].digest, file=str(path)
        )
        AuditSeal.objects.filter(event_id__in=ids).delete()
        AuditEvent.objects.filter(pk__in=ids).delete()
    return path, len(ids)


ARCHIVE_EVERY = timedelta(hours=1)
_last_archive: list[datetime] = []


def housekeeping() -> None:
    """The dispatcher's housekeeping (about once a minute): seal new rows; at most hourly,
    archive rows past the retention (an indexed look-up when there are none)."""
    seal_events()
    now = timezone.now()
    if _last_archive and now - _last_archive[-1] < ARCHIVE_EVERY:
        return
    _last_archive[:] = [now]
    do_archive(directory=Path(settings.AUDIT_ARCHIVE_DIR), now=now)
