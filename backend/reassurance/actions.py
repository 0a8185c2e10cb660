"""Writes for reassurance calls: the weekly placing of one community's calls, and what their
outcomes do (the outbox listener and the answer window's timer).

A call is an outbox voice row (template `reassurance_call`, a menu with one key: 1 = I am
fine) placed through backend.notify; its listener hears `sent`, `answered`, `no_answer`,
`keypress`, `dead` and `skipped`. Keypress 1 settles it fine. No answer, a dead or skipped call
settle it missed at once; an answered call without 1 is missed when the answer window closes
(`reassurance.settle`, one timer per community). The second miss in a row raises one visit
task for today on the grid workers' lists (a third does not; a fourth raises the next).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.core import clock
from backend.notify import outbox, voice
from backend.notify.models import Channel, OutboxMessage
from backend.people.models import Resident
from backend.territory.models import Community
from backend.visits.actions import do_raise_visit_task, start_of
from backend.visits.models import TaskKind

from . import selectors
from .models import ReassuranceCall, ReassuranceEntry
from .selectors import Rule, week_of

logger = logging.getLogger(__name__)

SUBJECT = "reassure"  # outbox subjects "reassure:<resident id>:<week>"
TEMPLATE = "reassurance_call"
SETTLE = "reassurance.settle"
# How long after a call went out a keypress still counts; then an answered call is a miss.
ANSWER_WINDOW = timedelta(hours=2)
SOURCE_KIND = "reassurance"

State = ReassuranceCall.State
Entry = ReassuranceEntry.Kind
Status = OutboxMessage.Status


def answer_window() -> timedelta:
    seconds = getattr(settings, "REASSURANCE_ANSWER_WINDOW_S", None)
    return timedelta(seconds=float(seconds)) if seconds else ANSWER_WINDOW


def call_time(week: date, rule: Rule, now: datetime) -> datetime:
    """The rule's day and time in `week`; once that has passed (the job ran late), the rule's
    time of day today, or tomorrow: never at an hour the rule did not choose."""
    planned = timezone.make_aware(
        datetime.combine(week + timedelta(days=rule.weekday), rule.call_at)
    )
    if planned >= now:
        return planned
    today = timezone.make_aware(datetime.combine(timezone.localdate(now), rule.call_at))
    return today if today >= now else today + timedelta(days=1)


def do_place_weekly_calls(
    *, community_id: int, week: date | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Place this week's reassurance calls of one community: one per resident its rule
    calls who has none this week. Running it again in the same week places nothing; two
    runs at once take turns on the community's row."""
    now = now or timezone.now()
    week = week or week_of(timezone.localdate(now))
    counts = {"placed": 0, "bad_phone": 0}
    with transaction.atomic():
        community = Community.objects.select_for_update().filter(pk=community_id).first()
        if community is None:
            return counts
        rule = selectors.rule_for(community_id)
        residents = list(
            selectors.not_called_in(
                selectors.eligible(community_id, rule, timezone.localdate(now)), week
            )
            .select_related("household")
            .only("pk", "phone", "household__fixed_phone", "household__grid_id")
            .order_by("pk")
        )
        if not residents:
            return counts
        at = call_time(week, rule, now)
        params = voice.check_params(TEMPLATE, {"community": community.name[:35]})
        rows: list[OutboxMessage] = []
        callable_residents: list[Resident] = []
        for resident in residents:
            try:
                phone = voice.check_phone(selectors.phone_of(resident))
            except ValueError:
                counts["bad_phone"] += 1
                continue
            callable_residents.append(resident)
            rows.append(
                OutboxMessage(
                    channel=Channel.VOICE,
                    subject=f"{SUBJECT}:{resident.pk}:{week.isoformat()}",
                    to=phone,
                    template=TEMPLATE,
                    params=params,
                    not_before=at,
                    created_at=now,
                )
            )
        created = outbox.enqueue_many(rows)
        ReassuranceCall.objects.bulk_create(
            [
                ReassuranceCall(
                    resident_id=resident.pk,
                    community_id=community_id,
                    grid_id=resident.household.grid_id,
                    week=week,
                    planned_at=at,
                    message=row,
                    created_at=now,
                )
                for resident, row in zip(callable_residents, created, strict=True)
            ],
            batch_size=1000,
        )
        counts["placed"] = len(created)
        if created:
            clock.schedule(kind=SETTLE, key=str(community_id), due_at=at + answer_window())
    return counts


# -- outcomes ----------------------------------------------------------------------------------


def _entry(call: ReassuranceCall, kind: str, **data: Any) -> None:
    ReassuranceEntry.objects.create(resident_id=call.resident_id, call=call, kind=kind, data=data)


def on_outbox(row: OutboxMessage, what: str, detail: dict[str, Any]) -> None:
    """Outbox listener for `reassure:` rows (inside the transaction that records the outcome)."""
    call = ReassuranceCall.objects.select_for_update().filter(message_id=row.pk).first()
    if call is None:
        return
    if what == "sent":
        _entry(call, Entry.CALLED)
    elif what == "keypress":
        digit = str(detail.get("digit", ""))[:1]
        if digit == "1" and call.state == State.PENDING:
            _settle_fine(call)
        else:  # another key, or 1 after the call was counted missed: noted, changes nothing
            _entry(call, Entry.KEYPRESS, digit=digit, state=call.state)
            if call.state == State.PENDING and not call.outcome:
                call.outcome = f"key_{digit}"[:20]
                call.save(update_fields=["outcome"])
    elif what in ("no_answer", "dead", "skipped", "failed") and call.state == State.PENDING:
        do_miss(call=call, why=what)


def _settle_fine(call: ReassuranceCall) -> None:
    call.state, call.outcome, call.settled_at = State.FINE, "key_1", timezone.now()
    call.save(update_fields=["state", "outcome", "settled_at"])
    _entry(call, Entry.FINE)


def do_miss(*, call: ReassuranceCall, why: str) -> None:
    """Count a pending call missed; the second miss in a row raises a visit for today. Call
    inside a transaction holding the call's row."""
    now = timezone.now()
    call.state, call.settled_at = State.MISSED, now
    call.outcome = call.outcome or why
    call.save(update_fields=["state", "outcome", "settled_at"])
    _entry(call, Entry.MISSED, why=call.outcome)
    previous = (
        ReassuranceCall.objects.filter(resident_id=call.resident_id, week__lt=call.week)
        .order_by("-week")
        .first()
    )
    # A pair of misses raises one visit: the miss before this one raised none itself.
    if previous is None or previous.state != State.MISSED or previous.visit_task_id is not None:
        return
    resident = Resident.objects.select_related("household__grid").get(pk=call.resident_id)
    task, _ = do_raise_visit_task(
        household=resident.household,
        kind=TaskKind.REASSURANCE,
        reason="关爱电话连续两次未接通，请今日上门看望 two reassurance calls missed in a row",
        due_at=start_of(timezone.localdate(now) + timedelta(days=1)),  # by the end of today
        source_kind=SOURCE_KIND,
        source_ref=str(call.pk),
        data={"resident_id": call.resident_id, "calls": [previous.pk, call.pk]},
    )
    call.visit_task = task
    call.save(update_fields=["visit_task"])
    _entry(call, Entry.VISIT_RAISED, task_id=task.pk, calls=[previous.pk, call.pk])


def settle_community(*, community_id: int, now: datetime | None = None) -> datetime | None:
    """The answer window's timer: every pending call of the community whose window has
    closed is missed (answered without 1, or no word at all); returns when the next window
    closes, if a call is still open."""
    now = now or timezone.now()
    window = answer_window()
    later: datetime | None = None
    pending = (
        ReassuranceCall.objects.select_for_update(of=("self",))
        .filter(community_id=community_id, state=State.PENDING)
        .select_related("message")
        .order_by("pk")
    )
    for call in pending:
        row = call.message
        if row is None or row.status in (Status.DEAD, Status.CANCELLED):
            do_miss(call=call, why="failed")
            continue
        started = row.sent_at if row.status == Status.SENT and row.sent_at else None
        closes = (started or max(row.not_before, now)) + window
        if started is not None and closes <= now:
            do_miss(call=call, why="no_keypress" if row.outcome == "answered" else "no_answer")
        else:
            later = closes if later is None else min(later, closes)
    return later
