"""The SMS link of a published notice: queued as a row state (`NoticeAddressee.sms_state`
pending) in the publishing transaction, sent by the dispatcher duty registered in
CommunityConfig.ready. `send_notice_text` is the one place that hands a text to backend.notify.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from backend.notify.sms import MAINLAND_MOBILE, send_sms
from backend.people.models import Resident

from .models import Notice, NoticeAddressee

logger = logging.getLogger(__name__)

BATCH = 50
MAX_ATTEMPTS = 5


def send_notice_text(*, phone: str, text: str) -> None:
    """Hand one text to the notify seam (the single call site, to re-point at an outbox)."""
    send_sms(phone=phone, text=text)


def link_for(row: NoticeAddressee) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/n/{row.link_token}"


def notice_text(notice: Notice, row: NoticeAddressee) -> str:
    place = notice.community.name if notice.community else "区"
    return f"【{place}】公示：{notice.title[:60]}。请查看：{link_for(row)}"


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
        for row in rows:
            _send_one(row, phones.get(row.household_id))
        NoticeAddressee.objects.bulk_update(rows, ["sms_state", "sms_attempts"])
    return len(rows)


def _send_one(row: NoticeAddressee, phone: str | None) -> None:
    if phone is None:
        row.sms_state = NoticeAddressee.Sms.NO_PHONE
        return
    try:
        send_notice_text(phone=phone, text=notice_text(row.notice, row))
    except Exception:
        logger.exception("notice SMS %s failed", row.pk)
        row.sms_attempts += 1
        if row.sms_attempts >= MAX_ATTEMPTS:
            row.sms_state = NoticeAddressee.Sms.FAILED
        return
    row.sms_state = NoticeAddressee.Sms.SENT
