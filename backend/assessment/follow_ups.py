"""Follow-ups (回访): residents asked to rate the work done for them, and their answers.

After a resolved emergency, a closed case and a sample of visits the resident is asked once
(a housekeeping duty finds them with a few set-based statements: the alerts and the service
desk never call up here). They answer in the resident app, by SMS reply (the text goes out
through the durable clock and the outbox; the reply comes back through the gateway's callback
to `on_sms_reply`, the outbox listener for "follow_up" replies) or to the next visiting
worker, who must not be a worker the rating is for. Only the resident asked answers, once;
they may decline; the rating counts for the workers and the post it names.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as DbCase
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User
from backend.accounts.selectors import scope_for
from backend.alerts.models import Alert, AlertKind
from backend.core import clock
from backend.core.errors import ApiError, NotFound
from backend.core.models import Timer
from backend.notify import outbox, replies
from backend.notify.models import Channel, OutboxMessage
from backend.notify.sms import MAINLAND_MOBILE
from backend.people.models import Resident, ResidentTag
from backend.servicedesk.models import Case, CaseState
from backend.territory.scope import scope_filter
from backend.visits.models import Visit

from .models import AppliesTo, FollowUp, Scheme

LOOK_BACK = timedelta(days=30)
# The share of completed visits followed up is the scheme's `visit_sample_rate` (the latest
# scheme of the visit's district for its post: B → grid workers', A → officers'), this without
# one. Which visits: those whose id, spread evenly over [0, 2^32) by Fibonacci hashing, falls
# below rate × 2^32 — reproducible, and the share holds over any run of consecutive ids.
DEFAULT_VISIT_SAMPLE_RATE = 0.1
HASH_MULTIPLIER = 2654435769  # ⌊2^32 / φ⌋
HASH_SPAN = 2**32
BATCH = 500
SMS_TIMER = "assessment.follow_up_sms"
# "<code> <1-5|N>" as the template asks, or the bare score most people send; ASCII digits
# (after NFKC: full-width １ is 1), an optional 分 ("5分").
SMS_REPLY = re.compile(r"^\s*(?:([0-9]{6})\s*)?([1-5]|[Nn])\s*分?\s*$")
SUBJECT = "follow_up"


def sampled(visit_id: int, rate: float) -> bool:
    """Whether a visit is in the follow-up sample at `rate` (the SQL of `_sampled_visits`)."""
    return (visit_id * HASH_MULTIPLIER) % HASH_SPAN < rate * HASH_SPAN


def visit_sample_rate(district_id: int, post: str = Visit.Post.B) -> float:
    """The rate the latest scheme of the district for the post sets (or the default)."""
    applies_to = AppliesTo.OFFICER if post == Visit.Post.A else AppliesTo.WORKER
    rate = (
        Scheme.objects.filter(district_id=district_id, applies_to=applies_to)
        .order_by("-pk")
        .values_list("visit_sample_rate", flat=True)
        .first()
    )
    return DEFAULT_VISIT_SAMPLE_RATE if rate is None else rate


def _rate_of(applies_to: str) -> Subquery:
    return Subquery(
        Scheme.objects.filter(district_id=OuterRef("community__district_id"), applies_to=applies_to)
        .order_by("-pk")
        .values("visit_sample_rate")[:1],
        output_field=FloatField(),
    )


def _sampled_visits(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """The visits of `visits` in the follow-up sample of their scheme's rate."""
    rate = Coalesce(
        DbCase(
            When(post=Visit.Post.A, then=_rate_of(AppliesTo.OFFICER)),
            default=_rate_of(AppliesTo.WORKER),
            output_field=FloatField(),
        ),
        Value(DEFAULT_VISIT_SAMPLE_RATE),
        output_field=FloatField(),
    )
    spread = ExpressionWrapper(
        F("pk") * HASH_MULTIPLIER % HASH_SPAN, output_field=BigIntegerField()
    )
    return visits.annotate(sample_rate=rate, spread=spread).filter(
        spread__lt=F("sample_rate") * HASH_SPAN
    )


def _code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _not_asked(qs: QuerySet[Any], source: str) -> QuerySet[Any]:
    """The rows of `qs` nobody was asked about yet (source_ref is the row's id as text)."""
    asked = FollowUp.objects.filter(source=source, source_ref=OuterRef("ref"))
    return qs.annotate(ref=Cast("pk", CharField())).filter(~Exists(asked))


def _candidates(now: datetime) -> list[tuple[str, str, int, int, int, list[int], str]]:
    """(source, ref, resident, household, community, workers, post) not yet asked."""
    since = now - LOOK_BACK
    out: list[tuple[str, str, int, int, int, list[int], str]] = []
    alerts = Alert.objects.filter(
        kind=AlertKind.EMERGENCY, state=Alert.State.RESOLVED, resolved_at__gte=since
    ).filter(accepted_by__isnull=False)
    for a in _not_asked(alerts, "alert").values_list(
        "pk", "resident_id", "household_id", "community_id", "accepted_by_id"
    )[:BATCH]:
        out.append(("alert", str(a[0]), a[1], a[2], a[3], [a[4]], "B"))
    cases = Case.objects.filter(
        state=CaseState.CLOSED, closed_at__gte=since, resident__isnull=False,
        assignee__isnull=False, community__isnull=False, household__isnull=False,
    )  # fmt: skip
    for c in _not_asked(cases, "case").values_list(
        "pk", "resident_id", "household_id", "community_id", "assignee_id"
    )[:BATCH]:
        out.append(("case", str(c[0]), c[1], c[2], c[3], [c[4]], "A"))
    first_resident = (
        Resident.objects.filter(household=OuterRef("household_id"))
        .values("household")
        .annotate(first=Min("pk"))
        .values("first")
    )
    visits = _sampled_visits(
        Visit.objects.filter(state=Visit.State.COMPLETED, present=True, counted_at__gte=since)
    )
    for v in (
        _not_asked(visits, "visit")
        .annotate(resident=Subquery(first_resident[:1]))
        .values_list("pk", "resident", "household_id", "community_id", "worker_id", "post")[:BATCH]
    ):
        if v[1] is not None:
            out.append(("visit", str(v[0]), v[1], v[2], v[3], [v[4]], v[5].upper()))
    return out


def _channel_of(resident_ids: set[int]) -> dict[int, str]:
    with_app = set(
        User.objects.filter(resident_id__in=resident_ids, is_active=True).values_list(
            "resident_id", flat=True
        )
    )
    phones = dict(Resident.objects.filter(pk__in=resident_ids).values_list("pk", "phone"))
    return {
        rid: "app" if rid in with_app
        else "sms" if MAINLAND_MOBILE.fullmatch(phones.get(rid) or "") else "visit"
        for rid in resident_ids
    }  # fmt: skip


def do_ask(rows: list[tuple[str, str, int, int, int, list[int], str]], now: datetime) -> int:
    """Create the follow-ups (and their SMS timers) for `rows`; returns how many were new."""
    if not rows:
        return 0
    channels = _channel_of({r[2] for r in rows})
    with transaction.atomic():
        FollowUp.objects.bulk_create(
            [
                FollowUp(
                    source=s, source_ref=ref, resident_id=rid, household_id=hid, community_id=cid,
                    post=post, channel=channels[rid], code=_code(), asked_at=now,
                    panel_year=int(ref.split(":")[0]) if s == "panel" else None,
                )
                for s, ref, rid, hid, cid, _, post in rows
            ],
            ignore_conflicts=True,
        )  # fmt: skip
        keys = {(r[0], r[1], r[2]): r[5] for r in rows}
        made = FollowUp.objects.filter(
            source__in={r[0] for r in rows}, source_ref__in={r[1] for r in rows}, asked_at=now
        ).values_list("pk", "source", "source_ref", "resident_id", "channel")
        through = FollowUp.workers.through
        links, new = [], 0
        for pk, source, ref, rid, channel in made:
            if (source, ref, rid) not in keys:
                continue
            new += 1
            links += [through(followup_id=pk, user_id=u) for u in keys[(source, ref, rid)] if u]
            if channel == FollowUp.Channel.SMS:
                clock.schedule(kind=SMS_TIMER, key=str(pk), due_at=now)
        through.objects.bulk_create(links, ignore_conflicts=True)
    return new


def ask_due(now: datetime | None = None) -> int:
    """The housekeeping duty: ask about every resolved alert, closed case and sampled visit of
    the last 30 days that has no follow-up yet."""
    now = now or timezone.now()
    return do_ask(_candidates(now), now)


@clock.handles(SMS_TIMER)
def _send_sms(timer: Timer) -> None:
    follow_up = FollowUp.objects.select_related("resident").filter(pk=int(timer.key)).first()
    if follow_up is None or follow_up.state != FollowUp.State.ASKED:
        return
    outbox.enqueue(  # an approved template, sent by the dispatcher (backend/notify/outbox.py)
        channel=Channel.SMS,
        subject=f"{SUBJECT}:{follow_up.pk}",
        template="follow_up",
        params={"code": follow_up.code},
        to=follow_up.resident.phone,
    )


# -- answers ---------------------------------------------------------------------------------


def _answer(fu: FollowUp, score: int | None, *, by: User | None, phone: str = "") -> FollowUp:
    if score is not None and not 1 <= score <= 5:
        raise ApiError("validation_error", status=422, fields={"score": "field_out_of_range"})
    if fu.state != FollowUp.State.ASKED:
        raise ApiError("follow_up_answered", status=409)
    fu.state = FollowUp.State.DECLINED if score is None else FollowUp.State.RATED
    fu.score, fu.answered_at, fu.answered_by, fu.answer_phone = score, timezone.now(), by, phone
    fu.save(update_fields=["state", "score", "answered_at", "answered_by", "answer_phone"])
    return fu


def _locked(follow_up_id: int, visible: QuerySet[FollowUp]) -> FollowUp:
    if not visible.filter(pk=follow_up_id).exists():
        raise NotFound()
    return FollowUp.objects.select_for_update().get(pk=follow_up_id)


def pending_for_resident(user: User) -> QuerySet[FollowUp]:
    if user.role != Role.RESIDENT or user.resident_id is None:
        return FollowUp.objects.none()
    return FollowUp.objects.filter(resident_id=user.resident_id, state=FollowUp.State.ASKED)


def do_answer_in_app(*, user: User, follow_up_id: int, score: int | None) -> FollowUp:
    """The resident asked answers in the app (None declines); anyone else: 404."""
    visible = FollowUp.objects.none()
    if user.role == Role.RESIDENT and user.resident_id is not None:
        visible = FollowUp.objects.filter(resident_id=user.resident_id)
    with transaction.atomic():
        fu = _locked(follow_up_id, visible)
        return _answer(fu, score, by=user, phone=user.phone)


def _asked_by_sms(phone: str) -> list[int]:
    """The follow-ups whose question was texted to `phone` (by the outbox's number digest:
    the number it went to, whatever the resident's record says now)."""
    refs = (s.split(":", 1)[1] for s in replies.subjects_sent_to(phone, prefix=SUBJECT))
    return [int(ref) for ref in refs if ref.isdigit()]


def do_answer_by_sms(*, phone: str, text: str) -> FollowUp:
    """An SMS reply from the phone a question went to: "<code> <1-5|N>" answers the follow-up
    of that code; a bare "<1-5|N>" the most recent open one texted to that phone. Any other
    sender or code is refused (404), and a second answer too (409)."""
    match = SMS_REPLY.match(unicodedata.normalize("NFKC", text or ""))
    if match is None:
        raise ApiError("follow_up_reply_invalid", status=422)
    code, answer = match.groups()
    visible = FollowUp.objects.filter(pk__in=_asked_by_sms(phone), channel=FollowUp.Channel.SMS)
    if code:
        candidates = visible.filter(code=code).order_by("state", "-asked_at")  # "asked" first
    else:
        candidates = visible.filter(state=FollowUp.State.ASKED).order_by("-asked_at", "-pk")
    with transaction.atomic():
        candidate = candidates.first()
        if candidate is None:
            raise NotFound()
        fu = _locked(candidate.pk, visible)
        return _answer(fu, None if answer in "Nn" else int(answer), by=None, phone=phone)


REPLY_OUTCOMES = {
    "follow_up_reply_invalid": "invalid",
    "follow_up_answered": "already_answered",
    "not_found": "no_open_follow_up",
}


def on_sms_reply(row: OutboxMessage, what: str, detail: dict[str, Any]) -> str:
    """The outbox listener for replies to follow-up texts (registered in AssessmentConfig):
    the reply is an answer, or it is recorded as what it was (its text is not an answer,
    nothing is open for that phone) and ignored."""
    try:
        fu = do_answer_by_sms(phone=str(detail.get("phone", "")), text=str(detail.get("text", "")))
    except ApiError as error:
        return REPLY_OUTCOMES.get(error.code, error.code)
    return str(fu.state)


def visible_to_worker(user: User) -> QuerySet[FollowUp]:
    scope = scope_for(user)
    return FollowUp.objects.filter(
        scope_filter(
            scope, grid="household__grid_id", community="community_id",
            district="community__district_id",
        )
    )  # fmt: skip


def do_answer_on_visit(*, user: User, follow_up_id: int, score: int | None) -> FollowUp:
    """The next visiting worker records the resident's answer — never a worker it rates."""
    if user.role == Role.RESIDENT:
        raise NotFound()
    with transaction.atomic():
        fu = _locked(follow_up_id, visible_to_worker(user))
        if fu.workers.filter(pk=user.pk).exists():
            raise ApiError("follow_up_rated_worker", status=403)
        return _answer(fu, score, by=user, phone=user.phone)


# -- the yearly resident panel (居民满意度测评) -------------------------------------------------


def do_draw_panel(
    *, community_id: int, year: int, size: int = 50, ordinary_share: float = 0.7, seed: str = ""
) -> int:
    """Draw `size` residents of the community, at least `ordinary_share` of them without care
    tags, reproducibly (the same seed draws the same panel), and ask them; each rating counts
    for the B-post workers of the resident's grid."""
    if size < 1 or not 0 <= ordinary_share <= 1:
        raise ApiError("validation_error", status=422, fields={"size": "field_out_of_range"})
    residents = Resident.objects.filter(household__grid__community_id=community_id)
    tagged = Exists(ResidentTag.objects.filter(resident=OuterRef("pk")))
    rows = list(
        residents.annotate(tagged=tagged)
        .order_by("pk")
        .values_list("pk", "household_id", "household__grid_id", "tagged")
    )
    rng = random.Random(f"{seed}:{community_id}:{year}")  # noqa: S311 (a sample, not a secret)
    ordinary = [r for r in rows if not r[3]]
    cared = [r for r in rows if r[3]]
    want_ordinary = min(len(ordinary), math.ceil(size * ordinary_share))
    chosen = rng.sample(ordinary, want_ordinary)
    chosen += rng.sample(cared, min(len(cared), size - len(chosen)))
    grids: dict[int, list[int]] = {}
    for grid_id, user_id in GridAssignment.objects.filter(
        grid__community_id=community_id
    ).values_list("grid_id", "user_id"):
        grids.setdefault(grid_id, []).append(user_id)
    ref = f"{year}:{community_id}"
    return do_ask(
        [("panel", ref, r[0], r[1], community_id, grids.get(r[2], []), "B") for r in chosen],
        timezone.now(),
    )


def do_answer(*, user: User, follow_up_id: int, score: int | None) -> FollowUp:
    """The one answer endpoint: a resident answers for themselves in the app; a worker records
    the answer given at the door."""
    if user.role == Role.RESIDENT:
        return do_answer_in_app(user=user, follow_up_id=follow_up_id, score=score)
    return do_answer_on_visit(user=user, follow_up_id=follow_up_id, score=score)


def follow_ups_for(user: User) -> QuerySet[FollowUp]:
    """Open questions: a resident's own; for a worker, those to ask at the door in their
    grids that do not rate them."""
    if user.role == Role.RESIDENT:
        return pending_for_resident(user).order_by("-asked_at", "pk")
    return (
        visible_to_worker(user)
        .filter(state=FollowUp.State.ASKED, channel=FollowUp.Channel.VISIT)
        .exclude(workers=user)
        .order_by("-asked_at", "pk")
    )
