"""The one outbox for push, SMS and voice: rows written in the caller's transaction, sent by
the dispatcher duty `send_due` (any number of dispatchers: claimed with SELECT ... FOR UPDATE
SKIP LOCKED under a lease), retried with exponential backoff on retryable errors, dead after
OUTBOX_MAX_ATTEMPTS tries.

A row is claimed (status `sending`, `claimed_until` = now + lease) and that claim committed
before anything is sent; right before its send the claim is renewed if it still holds (else
another dispatcher has taken it over and this one skips it); the send happens outside any
transaction; its result is written in a second one. A dispatcher killed in between leaves
the row `sending` with an expired lease: another takes it again and sends it with the same
`public_id`, the idempotency key providers are given (Aliyun OutId, Tencent SessionContext,
the push's event id), so a phone or a receipt can tell it is the same message. Delivery is at
least once; the provider's message id is unique per provider in this table, so a second
acceptance of one message is not recorded twice.

Listeners (`register_listener("alert", fn)`) turn what happens to a row into the subject's
timeline, in the same transaction as the row's change; a listener registered for
`what="reply"` hears the SMS replies to its subjects' messages (replies.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from backend.core.dispatcher import PRESENCE_TTL
from backend.core.models import SocketPresence, StreamEvent
from backend.core.personal import phone_digest

from .base import SendResult
from .models import Channel, OutboxMessage

logger = logging.getLogger(__name__)

Status = OutboxMessage.Status
BATCH = 20
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
# An urgent event a "live" socket has not taken within this long is pushed anyway: the
# socket may have died with its process (kill -9) before its presence row expired.
DELIVERY_GRACE = timedelta(seconds=5)

Listener = Callable[[OutboxMessage, str, dict[str, Any]], object]
_listeners: dict[tuple[str, str], Listener] = {}
# Heard only by a listener registered for them by name (a reply is a person's own words: a
# listener written for delivery outcomes must not file one as a rung's outcome).
OPT_IN = frozenset({"reply"})
Sender = Callable[[OutboxMessage], SendResult]
_senders: dict[str, Sender] = {}


def register_listener(prefix: str, listener: Listener, *, what: str = "") -> None:
    """`listener(row, what, detail)` for rows whose subject starts with `prefix:`. Without
    `what` it hears every delivery outcome: sent, dead, skipped, delivered, failed, answered,
    no_answer, keypress. With `what="reply"` it hears the SMS replies to the prefix's
    messages (backend/notify/replies.py; detail: text, phone) and what it returns is recorded
    as the reply's outcome. Runs inside the transaction that records it."""
    _listeners[(prefix, what)] = listener


def listener_for(prefix: str, what: str) -> Listener | None:
    found = _listeners.get((prefix, what))
    if found is None and what not in OPT_IN:
        found = _listeners.get((prefix, ""))
    return found


def prefixes_hearing(what: str) -> list[str]:
    """The subject prefixes whose listener hears `what`."""
    return sorted({p for p, w in _listeners if w == what or (not w and what not in OPT_IN)})


def register_sender(channel: str, sender: Sender) -> None:
    _senders[channel] = sender


def tell_listener(row: OutboxMessage, what: str, detail: dict[str, Any] | None = None) -> object:
    """Run the subject's listener in a savepoint and return what it returns: a listener that
    fails (its subject is gone) is logged and does not undo what the row records (None)."""
    listener = listener_for(row.subject.split(":", 1)[0], what)
    if listener is None:
        return None
    try:
        with transaction.atomic():
            return listener(row, what, detail or {})
    except Exception:
        logger.exception("outbox listener for %s (%s) failed", row.subject, what)
        return None


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", MAX_ATTEMPTS))


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... s after the n-th failed try, at most a minute."""
    base = float(getattr(settings, "OUTBOX_BACKOFF_BASE_S", BACKOFF_BASE_S))
    return timedelta(seconds=min(BACKOFF_MAX_S, base * 2 ** max(0, attempts - 1)))


# -- writing ---------------------------------------------------------------------------------


def enqueue(
    *,
    channel: str,
    subject: str,
    template: str = "",
    params: dict[str, Any] | None = None,
    to: str = "",
    user_id: int | None = None,
    not_before: datetime | None = None,
    rung: int = 0,
) -> OutboxMessage:
    """One message, sent once the caller's transaction commits (call inside it)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if not to and user_id is None:
        raise ValueError("a message needs a phone number or a user")
    now = timezone.now()
    return OutboxMessage.objects.create(
        channel=channel,
        subject=subject,
        template=template,
        params=params or {},
        to=to,
        to_digest=phone_digest(to) if to else "",
        user_id=user_id,
        not_before=not_before or now,
        rung=rung,
        created_at=now,
    )


def enqueue_many(rows: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    """Several messages in one INSERT (rows built by the caller)."""
    rows = list(rows)
    for row in rows:
        if row.to and not row.to_digest:
            row.to_digest = phone_digest(row.to)
    return OutboxMessage.objects.bulk_create(rows)


def stop(*, subject: str, user_ids: Iterable[int] | None = None, reason: str) -> int:
    """Cancel the rungs not yet sent of `subject` (for these recipients, else everyone's):
    they acknowledged, or the matter is settled. A row being sent right now is not stopped."""
    rows = OutboxMessage.objects.filter(subject=subject, status=Status.PENDING, user__isnull=False)
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    return rows.update(status=Status.CANCELLED, outcome=reason[:20], outcome_at=timezone.now())


# -- sending (the dispatcher duty) -------------------------------------------------------------


def _due(now: datetime) -> Q:
    return Q(status=Status.PENDING, not_before__lte=now) | Q(
        status=Status.SENDING, claimed_until__lt=now
    )


def claim(*, now: datetime | None = None, limit: int = BATCH) -> list[OutboxMessage]:
    """Lock what is due, drop what an acknowledgement made moot, hold back a push for a live
    socket's grace period, and mark the rest `sending` under a lease; commits before return."""
    now = now or timezone.now()
    held_until = now + lease()
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(_due(now))
            .order_by("not_before")[:limit]
        )
        if not rows:
            return []
        events = {r.event_id for r in rows if r.event_id}
        acked = (
            set(
                StreamEvent.objects.filter(pk__in=events, delivered_at__isnull=False).values_list(
                    "pk", flat=True
                )
            )
            if events
            else set()
        )
        young = {
            r.user_id
            for r in rows
            if r.channel == Channel.PUSH and r.attempts == 0 and now - r.created_at < DELIVERY_GRACE
        }
        live = (
            set(
                SocketPresence.objects.filter(
                    user_id__in=young, seen_at__gte=now - PRESENCE_TTL
                ).values_list("user_id", flat=True)
            )
            if young
            else set()
        )
        sending: list[OutboxMessage] = []
        for row in rows:
            if row.event_id in acked:
                row.status, row.outcome, row.outcome_at = Status.CANCELLED, "acknowledged", now
            elif row.user_id in live and row.channel == Channel.PUSH and row.attempts == 0:
                row.not_before = row.created_at + DELIVERY_GRACE  # the socket goes first
            else:
                row.status, row.claimed_until = Status.SENDING, held_until
                row.attempts += 1
                sending.append(row)
        OutboxMessage.objects.bulk_update(
            rows, ["status", "outcome", "outcome_at", "not_before", "claimed_until", "attempts"]
        )
        if acked:  # their later rungs (SMS, call) are moot too: cancelled now, never claimed
            OutboxMessage.objects.filter(event_id__in=acked, status=Status.PENDING).update(
                status=Status.CANCELLED, outcome="acknowledged", outcome_at=now
            )
    return sending


def send_due() -> int:
    """The dispatcher duty: claim, send each claimed row, record each result."""
    claimed = claim()
    if not claimed:
        return 0
    pause = float(getattr(settings, "OUTBOX_PAUSE_AFTER_CLAIM_S", 0) or 0)
    if pause:  # fault tests only: a window to kill -9 the dispatcher between claim and send
        time.sleep(pause)
    after_send = float(getattr(settings, "OUTBOX_PAUSE_AFTER_SEND_S", 0) or 0)
    for row in claimed:
        if not renew(row):
            continue  # our claim ran out while we sent the ones before: another has it
        result = send(row)
        if after_send:  # fault tests only: a window between the provider's answer and ours
            time.sleep(after_send)
        record(row, result)
    return len(claimed)


def lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "OUTBOX_LEASE_S", LEASE.total_seconds())))


def renew(row: OutboxMessage) -> bool:
    """Extend our claim right before sending, if it still holds (one conditional UPDATE): a
    row is sent only by a dispatcher whose lease held a moment ago, and the lease is longer
    than any one provider call may take (their timeouts are 5 s)."""
    now = timezone.now()
    return bool(
        OutboxMessage.objects.filter(
            pk=row.pk, status=Status.SENDING, attempts=row.attempts, claimed_until__gt=now
        ).update(claimed_until=now + lease())
    )


def send(row: OutboxMessage) -> SendResult:
    sender = _senders.get(row.channel)
    if sender is None:
        return SendResult(ok=False, provider="", error=f"no sender for {row.channel}")
    try:
        return sender(row)
    except Exception as error:
        logger.exception("sending outbox row %s failed", row.pk)
        return SendResult(ok=False, provider="", error=repr(error)[:500], retryable=True)


def record(row: OutboxMessage, result: SendResult) -> None:
    """Write what became of one try, if the row is still ours (same claim, same attempt)."""
    now = timezone.now()
    with transaction.atomic():
        mine = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=row.pk, status=Status.SENDING, attempts=row.attempts)
            .first()
        )
        if mine is None:
            return
        mine.provider = result.provider or mine.provider
        mine.claimed_until, mine.attempted_at = None, now
        if result.ok:
            mine.status, mine.sent_at, mine.last_error = Status.SENT, now, ""
            mine.provider_message_id = result.message_id[:128]
            if mine.to and not mine.to_digest:  # written by a release that did not digest it
                mine.to_digest = phone_digest(mine.to)
            what = "sent"
        elif result.skipped:
            mine.status, mine.outcome, mine.outcome_at = Status.DEAD, "skipped", now
            mine.last_error = result.error[:2000]
            what = "skipped"
        elif result.retryable and mine.attempts < max_attempts():
            mine.status, mine.not_before = Status.PENDING, now + backoff(mine.attempts)
            mine.last_error = result.error[:2000]
            what = ""
        else:
            mine.status, mine.last_error = Status.DEAD, result.error[:2000]
            what = "dead"
        try:
            with transaction.atomic():
                mine.save()
        except IntegrityError:
            # The provider gave a message id we already hold: the same message, accepted twice
            # (a retry after a lost answer). Record the try, not a second message.
            mine.provider_message_id = ""
            mine.last_error = f"duplicate of provider message {result.message_id}"
            mine.save()
        if what:
            tell_listener(mine, what, {"error": result.error[:200]} if result.error else {})


# -- looking -------------------------------------------------------------------------------


def by_message_id(provider: str, message_id: str) -> OutboxMessage | None:
    if not message_id:
        return None
    return OutboxMessage.objects.filter(provider=provider, provider_message_id=message_id).first()


def health(*, now: datetime | None = None) -> dict[str, Any]:
    """The oldest due row's age (a backlog older than a minute is trouble), and the providers
    whose last try in the past 5 minutes failed with no success after it."""
    now = now or timezone.now()
    oldest = OutboxMessage.objects.filter(_due(now)).aggregate(at=Min("not_before"))["at"]
    backlog_s = (now - oldest).total_seconds() if oldest else 0.0
    latest = (
        OutboxMessage.objects.filter(attempted_at__gte=now - timedelta(minutes=5))
        .exclude(provider="")
        .exclude(outcome="skipped")
        .order_by("provider", "-attempted_at")
        .values_list("provider", "status", "last_error")[:500]
    )
    state: dict[str, bool] = {}
    for provider, status, error in latest:
        state.setdefault(provider, status != Status.SENT and bool(error))
    failing = sorted(p for p, bad in state.items() if bad)
    return {"backlog_seconds": round(backlog_s, 1), "failing_providers": failing}


BACKLOG_LIMIT_S = 60.0


def pending_by_channel() -> dict[tuple[str, ...], float]:
    """For the metrics scrape: messages due and not yet sent, per channel."""
    rows = (
        OutboxMessage.objects.filter(_due(timezone.now())).values("channel").annotate(n=Count("id"))
    )
    counts: dict[tuple[str, ...], float] = {(str(row["channel"]),): float(row["n"]) for row in rows}
    for channel in Channel.values:
        counts.setdefault((str(channel),), 0.0)
    return counts


def health_check() -> tuple[bool, dict[str, Any]]:
    """For /api/v1/health: degraded with a backlog older than a minute or a failing provider."""
    report = health()
    return report["backlog_seconds"] <= BACKLOG_LIMIT_S and not report["failing_providers"], report
