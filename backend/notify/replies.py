"""Inbound SMS: what a worker or resident texts back to one of our template messages.

Both gateways push a reply to an endpoint of ours (callbacks.py: Aliyun SmsUp, Tencent's reply
callback); each lands here, through `do_sms_reply`, the one action for a reply. It is kept
(`SmsReply`: the number and text encrypted, the number's digest to find it by) and matched to
the message it answers: the latest SMS sent to that number (`OutboxMessage.to_digest`) within
SMS_REPLY_WINDOW_DAYS whose subject has a listener registered for `what="reply"`
(`outbox.register_listener("follow_up", fn, what="reply")`). That listener gets
`(row, "reply", {"text", "phone", "reply_id"})` and returns a short outcome, which the reply
records. A number we never texted, or a subject nobody listens to: recorded `unmatched`, and
the provider is answered OK all the same (it retries anything else). Nothing here logs a
number or a text.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.core.personal import normalise_phone, phone_digest

from . import outbox
from .models import Channel, OutboxMessage, SmsReply

logger = logging.getLogger(__name__)

REPLY = "reply"
REPLY_WINDOW_DAYS = 30
MAX_TEXT = 500  # one SMS is 70 characters, a long one a few of them


def window() -> timedelta:
    return timedelta(days=float(getattr(settings, "SMS_REPLY_WINDOW_DAYS", REPLY_WINDOW_DAYS)))


def answered_message(digest: str, *, now: datetime | None = None) -> OutboxMessage | None:
    """The latest SMS sent to the number of `digest` that a reply may answer."""
    prefixes = outbox.prefixes_hearing(REPLY)
    if not prefixes:
        return None
    subjects = Q()
    for prefix in prefixes:
        subjects |= Q(subject__startswith=f"{prefix}:")
    now = now or timezone.now()
    return (
        OutboxMessage.objects.filter(
            subjects,
            channel=Channel.SMS,
            to_digest=digest,
            status=OutboxMessage.Status.SENT,
            sent_at__gte=now - window(),
        )
        .order_by("-sent_at", "-pk")
        .first()
    )


def subjects_sent_to(phone: str, *, prefix: str) -> list[str]:
    """The subjects (`prefix:...`) of every SMS we sent to `phone`, newest first: for a
    listener that must find, among them, the one a reply is about."""
    return list(
        OutboxMessage.objects.filter(
            channel=Channel.SMS,
            to_digest=phone_digest(phone),
            status=OutboxMessage.Status.SENT,
            subject__startswith=f"{prefix}:",
        )
        .order_by("-sent_at", "-pk")
        .values_list("subject", flat=True)
    )


def do_sms_reply(
    *,
    provider: str,
    phone: str,
    text: str,
    sign_name: str = "",
    extend: str = "",
    replied_at: datetime | None = None,
) -> SmsReply:
    """Record one reply and hand it to the listener of the message it answers. The caller
    has made sure this reply is new (the provider's sequence number or its content)."""
    number = normalise_phone(phone)
    digest = phone_digest(number)
    text = (text or "")[:MAX_TEXT]
    with transaction.atomic():
        row = answered_message(digest)
        reply = SmsReply.objects.create(
            provider=provider,
            phone=number,
            phone_digest=digest,
            text=text,
            sign_name=sign_name[:40],
            extend=extend[:20],
            replied_at=replied_at,
            message=row,
        )
        if row is None:
            outcome = "unmatched"
        else:
            said = outbox.tell_listener(
                row, REPLY, {"text": text, "phone": number, "reply_id": reply.pk}
            )
            outcome = str(said or "unhandled")[:20]
        reply.outcome = outcome
        reply.save(update_fields=["outcome"])
    logger.info("SMS reply %s through %s: %s", reply.pk, provider, outcome)
    return reply


def digest_missing(*, batch: int = 500) -> int:
    """Give the SMS rows sent within the reply window before `to_digest` existed (or by a
    release that did not write it) their number's digest, in batches; safe to re-run and while
    serving (`manage.py digest_outbox_numbers`). Returns how many rows it changed."""
    since = timezone.now() - window()
    changed, after = 0, 0
    while True:
        rows = list(
            OutboxMessage.objects.filter(
                channel=Channel.SMS, to_digest="", sent_at__gte=since, pk__gt=after
            )
            .order_by("pk")
            .only("pk", "to")[:batch]
        )
        if not rows:
            return changed
        after = rows[-1].pk
        filled = [row for row in rows if row.to]
        for row in filled:
            row.to_digest = phone_digest(row.to)
        OutboxMessage.objects.bulk_update(filled, ["to_digest"])
        changed += len(filled)
