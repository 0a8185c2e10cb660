"""The alert's side of the delivery ladder: what the outbox does for an alert becomes its
timeline (per recipient, each rung, when, and its outcome), a keypress is an answer, and the
contacts and the resident are told through the outbox.

Registered as the outbox's listener for "alert:" subjects in AlertsConfig.ready.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.core.errors import ApiError
from backend.core.personal import mask_name
from backend.notify import outbox
from backend.notify.models import OutboxMessage
from backend.notify.voice import place_call

from .models import Alert, AlertStep

logger = logging.getLogger(__name__)

CHANNEL_NAMES = {"push": "推送", "sms": "短信", "voice": "电话"}
OUTCOME_NAMES = {
    "sent": "已发出",
    "dead": "发送失败",
    "skipped": "无法发送",
    "delivered": "已送达",
    "failed": "未送达",
    "answered": "已接听",
    "no_answer": "未接听",
}
ROLE_NAMES: dict[str, str] = {Role.SUPERVISOR: "社区值班人员", Role.DISTRICT_ADMIN: "区值班人员"}


def subject(alert_id: int) -> str:
    return f"alert:{alert_id}"


def stop_ladder(alert: Alert, user_ids: list[int] | None, reason: str) -> int:
    """Cancel the rungs not yet sent: of these recipients, or everyone's (settled)."""
    return outbox.stop(subject=subject(alert.pk), user_ids=user_ids, reason=reason)


def note_for(row: OutboxMessage, what: str, detail: dict[str, Any]) -> str:
    at = timezone.localtime().strftime("%H:%M:%S")
    if what == "keypress":
        answer = {"1": "已接警", "2": "无法前往"}.get(detail.get("digit", ""), "无效按键")
        return f"按键 {detail.get('digit', '')}：{answer} {at}"
    return f"{CHANNEL_NAMES.get(row.channel, row.channel)}{OUTCOME_NAMES.get(what, what)} {at}"


def on_outbox(row: OutboxMessage, what: str, detail: dict[str, Any]) -> None:
    """Outbox listener: a timeline entry per rung outcome; a keypress answers the alert."""
    alert_id = int(row.subject.split(":", 1)[1])
    who = (
        User.objects.filter(pk=row.user_id).values_list("name", flat=True).first()
        if row.user_id is not None
        else None
    )
    data = {
        "user_id": row.user_id,
        "recipient": (
            {"id": row.user_id, "name": who}
            if who
            else {"role": "contact" if row.template == "alert_contacts" else "resident"}
        ),
        "channel": row.channel,
        "rung": row.rung,
        "outcome": what,
        "provider": row.provider,
        "template": row.template,
        **({"digit": detail["digit"]} if "digit" in detail else {}),
        **({"error": detail["error"]} if detail.get("error") else {}),
    }
    AlertStep.objects.create(
        alert_id=alert_id, kind="delivery", note=note_for(row, what, detail), data=data
    )
    if what == "keypress" and row.user_id is not None:
        keypress(alert_id=alert_id, user_id=row.user_id, digit=str(detail.get("digit", "")))


def keypress(*, alert_id: int, user_id: int, digit: str) -> None:
    """1 = I am going: the same accept as the API (one winner); 2 = I cannot."""
    from .actions import do_accept, do_decline

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    try:
        if digit == "1":
            do_accept(user=user, alert_id=alert_id)
        elif digit == "2":
            do_decline(user=user, alert_id=alert_id)
    except ApiError as error:
        # Someone else accepted first, or the alert is settled: the timeline says so.
        AlertStep.objects.create(
            alert_id=alert_id,
            kind="keypress_refused",
            actor=user,
            data={"digit": digit, "code": error.code},
        )


def text_contacts(alert: Alert) -> int:
    """The emergency contacts' SMS: a fixed template with the resident's masked name and the
    community's duty phone, one outbox row each."""
    duty_phone = alert.community.duty_phone or settings.DUTY_PHONE
    rows = [
        OutboxMessage(
            channel="sms",
            subject=subject(alert.pk),
            to=contact.phone,
            template="alert_contacts",
            params={"name": mask_name(alert.resident.name), "duty_phone": duty_phone},
        )
        for contact in alert.resident.emergency_contacts.all()
    ]
    outbox.enqueue_many(rows)
    return len(rows)


def call_back_resident(alert: Alert, responder: User) -> OutboxMessage | None:
    """After an emergency is accepted: "your call was received, <role> is on the way", to the
    resident's phone or the household's fixed line."""
    phone = alert.resident.phone or alert.household.fixed_phone
    if not phone:
        return None
    try:
        return place_call(
            to=phone,
            template="resident_callback",
            params={"role": ROLE_NAMES.get(responder.role, "网格员")},
            subject=subject(alert.pk),
        )
    except ValueError:
        logger.warning("alert %s: the resident's phone cannot be called", alert.pk)
        return None
