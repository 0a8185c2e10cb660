"""The delivery ladder of an urgent event, per recipient: the socket first (the stream), then a
push through the provider the phone registered, then a template SMS, then a voice call whose
keypress can accept. Every rung is an outbox row written with the event, in its transaction
(one bulk INSERT), due at its own `not_before`; an acknowledgement on any channel cancels the
rungs not yet sent (`outbox.stop`, or the event's socket ack checked when a rung is claimed).

One mechanism, the outbox's not-before time, rather than a timer per rung: the rows exist from
the first moment, so the timeline and the health check see the whole ladder, and stopping it
is one UPDATE of pending rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.core.models import StreamEvent

from .delivery import ladder_kind, push_data, subject_of
from .models import Channel, LadderPolicy, OutboxMessage


@dataclass(frozen=True)
class Ladder:
    sms_after_s: int | None = None
    voice_after_s: int | None = None


# Emergency: push at once, SMS at 20 s, call at 35 s, all inside the first tier's 60 s.
# Help (300 s tiers): SMS at 2 minutes, no call. Technical alarms and visit tasks: push only.
DEFAULT_LADDERS: dict[str, Ladder] = {
    "emergency": Ladder(sms_after_s=20, voice_after_s=35),
    "help": Ladder(sms_after_s=120),
}
KIND_NAMES = {"emergency": "紧急求助", "help": "一般求助"}
_ladders: dict[tuple[int | None, str], tuple[float, Ladder]] = {}


@receiver([post_save, post_delete], sender=LadderPolicy)
def _forget(**kwargs: Any) -> None:
    _ladders.clear()


def ladder_for(community_id: int | None, kind: str) -> Ladder:
    """The ladder in force (kept per process for settings.POLICY_CACHE_S, like the escalation
    policy): the press path reads no policy row."""
    key = (community_id, kind)
    cached = _ladders.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    rows = sorted(
        LadderPolicy.objects.filter(
            Q(community_id=community_id) | Q(community__isnull=True), kind=kind
        ),
        key=lambda p: p.community_id is None,
    )
    ladder = (
        Ladder(rows[0].sms_after_s, rows[0].voice_after_s)
        if rows
        else DEFAULT_LADDERS.get(kind, Ladder())
    )
    _ladders[key] = (time.monotonic() + settings.POLICY_CACHE_S, ladder)
    return ladder


def staff_params(event: StreamEvent) -> dict[str, str]:
    """What a staff SMS or call says: the kind, the grid and the alert number, nothing else."""
    data = event.data
    kind = ladder_kind(event)
    return {
        "kind": KIND_NAMES.get(kind, kind),
        "grid": str(data.get("grid_id", "")),
        "alert": str(data.get("alert_id", "")),
    }


def rungs_for(event: StreamEvent) -> list[OutboxMessage]:
    subject = subject_of(event)
    rows = [
        OutboxMessage(
            channel=Channel.PUSH,
            subject=subject,
            user_id=event.user_id,
            event=event,
            rung=0,
            params=push_data(event),
            not_before=event.at,
            created_at=event.at,
        )
    ]
    if not subject.startswith("alert:") or event.type != "alert.raised":
        return rows
    community = event.data.get("community_id")
    ladder = ladder_for(community if isinstance(community, int) else None, ladder_kind(event))
    for rung, (channel, after, template) in enumerate(
        [
            (Channel.SMS, ladder.sms_after_s, "alert_staff"),
            (Channel.VOICE, ladder.voice_after_s, "alert_staff_call"),
        ],
        start=1,
    ):
        if after is None:
            continue
        rows.append(
            OutboxMessage(
                channel=channel,
                subject=subject,
                user_id=event.user_id,
                event=event,
                rung=rung,
                template=template,
                params=staff_params(event),
                not_before=event.at + timedelta(seconds=after),
                created_at=event.at,
            )
        )
    return rows


def enqueue_ladders(events: list[StreamEvent]) -> None:
    """The stream's urgent hook: every rung of every recipient, in one INSERT."""
    rows = [row for event in events for row in rungs_for(event)]
    if rows:
        OutboxMessage.objects.bulk_create(rows)
