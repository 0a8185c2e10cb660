"""The SMS link of a published notice: queued as a row state (`NoticeAddressee.sms_state`
pending) in the publishing transaction; the dispatcher duty registered in CommunityConfig.ready
hands each household's text to the notify outbox (an approved template, sent, retried and
dead-lettered there) in one INSERT per batch."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from backend.notify import outbox
from backend.notify.models import Channel, OutboxMessage
from backend.notify.sms import MAINLAND_MOBILE
from backend.people.models import Resident

from .models import Notice, NoticeAddressee

BATCH = 50
TITLE_CHARS = 30  # an SMS template variable holds at most 35 characters


def link_for(row: NoticeAddressee) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/n/{row.link_token}"


def notice_message(notice: Notice, row: NoticeAddressee, phone: str) -> OutboxMessage:
    place = notice.community.name if notice.community else "区"
    return OutboxMessage(
        channel=Channel.SMS,
        subject=f"notice:{notice.pk}",
        template="notice_link",
        params={"place": place[:35], "title": notice.title[:TITLE_CHARS], "token": row.link_token},
        to=phone,
    )


def _phones(household_ids: list[int]) -> dict[int, str]:
    """The first resident's mainland mobile number in each household."""
    phones: dict[int, str] = {}
    rows = (
        Resident.objects.filter(household_id__in=household_ids)
        .exclude(phone="")
        .order_by("household_id", "pk")
        .values_list("household_id", "phone")
    )
    for household_id, phone in rows:
        if household_id not in phones and MAINLAND_MOBILE.fullmatch(phone):
            phones[household_id] = phone
    return phones


def send_due_notice_sms(limit: int = BATCH) -> int:
    """Send the pending SMS links (rows locked SKIP LOCKED, so several dispatchers share the
    work and none sends a row twice); returns how many rows it settled or retried."""
    with transaction.atomic():
        rows = list(
            NoticeAddressee.objects.filter(sms_state=NoticeAddressee.Sms.PENDING)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("notice", "notice__community")
            .order_by("pk")[:limit]
        )
        if not rows:
            return 0
        phones = _phones([r.household_id for r in rows])
        messages = []
        for row in rows:
            phone = phones.get(row.household_id)
            if phone is None:
                row.sms_state = NoticeAddressee.Sms.NO_PHONE
            else:
                messages.append(notice_message(row.notice, row, phone))
                row.sms_state = NoticeAddressee.Sms.SENT  # handed to the outbox
        outbox.enqueue_many(messages)
        NoticeAddressee.objects.bulk_update(rows, ["sms_state"])
    return len(rows)
