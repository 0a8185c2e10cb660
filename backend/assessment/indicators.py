"""The indicators a scheme can choose, each defined once as the rows it counts.

An indicator is a query of evidence rows — one per household, visit, task, alert, case, rating
or follow-up it looks at — with four columns: `subject` (the worker's user id, or the
community id), `ref` (the record's id), `value` (1/0 for a rate, seconds for a time, points for
a rating) and `excluded` (empty, or why the row does not count: the anti-gaming rules). The
scorecard's numbers are SQL aggregates over these rows (backend.assessment.compute), and the
evidence a worker or the XLSX sees is the same rows listed, so the two always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from backend.alerts.models import Alert, AlertKind, AlertRecipient
from backend.alerts.selectors import policy_for
from backend.photos.models import Photo
from backend.servicedesk.models import Case as ServiceCase
from backend.servicedesk.models import CaseRating, CaseStep
from backend.territory.models import Community, Household
from backend.visits.models import TaskKind, Visit, VisitFinding, VisitTask

from .models import AppliesTo, FollowUp

# A vulnerable household's routine visit is on schedule when done within this of falling due.
ON_SCHEDULE_GRACE = timedelta(days=3)
# A tier-1 call never acknowledged counts as this slow (it must not vanish from the p90).
NEVER_ACKNOWLEDGED_S = 3600.0
# A second case of the same item for the same resident within this is a duplicate.
DUPLICATE_WITHIN = timedelta(days=7)

W, OF, C = AppliesTo.WORKER, AppliesTo.OFFICER, AppliesTo.COMMUNITY


class Seconds(Func):
    """Seconds from `start` to `end` (PostgreSQL EXTRACT(EPOCH), SQLite julianday)."""

    output_field = FloatField()

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


@dataclass(frozen=True)
class Window:
    """What an indicator is computed over: one district, one period, one kind of subject."""

    district_id: int
    starts_at: datetime
    ends_at: datetime
    subject: str  # AppliesTo


@dataclass(frozen=True)
class Spec:
    code: str
    label_zh: str
    label_en: str
    aggregate: str  # rate | mean | count | p50 | p90
    unit: str  # share | seconds | points | cases
    record: str  # what `ref` names: household, visit, task, alert, case, step, rating, follow_up
    subjects: frozenset[str]
    rows: Callable[[Window], QuerySet[Any]]
    miss_reason: str = ""  # rows with value 0 are also listed as excluded for this reason


def _flag(condition: Q | Exists) -> Case:
    return Case(When(condition, then=Value(1.0)), default=Value(0.0), output_field=FloatField())


def _excluded(*whens: When) -> Case:
    return Case(*whens, default=Value(""), output_field=CharField())


def _out(qs: QuerySet[Any], **columns: Any) -> QuerySet[Any]:
    return qs.annotate(**columns).values("subject", "ref", "value", "excluded")


def _by_grid(w: Window, grid: str) -> Any:
    """The subject of a row kept by grid: the grid's B-post workers, or its community."""
    return F(f"{grid}__community_id") if w.subject == C else F(f"{grid}__b_posts__user")


def _valid_visit(household: Any, w: Window) -> Exists:
    photo = Photo.objects.filter(subject_kind="visit", subject_uuid=OuterRef("client_uuid"))
    return Exists(
        Visit.objects.filter(
            household=household,
            state=Visit.State.COMPLETED,
            flag="",
            counted_at__gte=w.starts_at,
            counted_at__lt=w.ends_at,
        ).filter(Exists(photo))
    )


# -- B post (网格岗位) -------------------------------------------------------------------------


def coverage(w: Window) -> QuerySet[Any]:
    """Households of the grid(s) with a valid visit (completed, inside the fence, with a photo)."""
    qs = Household.objects.filter(grid__community__district_id=w.district_id)
    return _out(
        qs.annotate(subject=_by_grid(w, "grid")).filter(subject__isnull=False),
        ref=F("pk"),
        value=_flag(_valid_visit(OuterRef("pk"), w)),
        excluded=Value(""),
    )


def vulnerable_on_schedule(w: Window) -> QuerySet[Any]:
    """Routine tasks of households with a care tag that fell due in the period: done (by a
    visit inside the fence) within ON_SCHEDULE_GRACE."""
    qs = VisitTask.objects.filter(
        community__district_id=w.district_id,
        kind=TaskKind.ROUTINE,
        due_at__gte=w.starts_at,
        due_at__lt=w.ends_at,
        household__residents__tags__isnull=False,
    ).distinct()
    on_time = Q(
        state=VisitTask.State.DONE,
        done_at__lte=F("due_at") + ON_SCHEDULE_GRACE,
        done_by_visit__flag="",
    )
    return _out(
        qs.annotate(subject=_by_grid(w, "grid")).filter(subject__isnull=False),
        ref=F("pk"),
        value=_flag(on_time),
        excluded=_excluded(When(state=VisitTask.State.CANCELLED, then=Value("task_cancelled"))),
    )


def _visits(w: Window) -> QuerySet[Visit]:
    return Visit.objects.filter(
        community__district_id=w.district_id,
        state=Visit.State.COMPLETED,
        counted_at__gte=w.starts_at,
        counted_at__lt=w.ends_at,
    )


def fence_pass(w: Window) -> QuerySet[Any]:
    """Visits whose check-in was inside the fence; photo-less visits do not count either way."""
    photo = Photo.objects.filter(subject_kind="visit", subject_uuid=OuterRef("client_uuid"))
    subject = F("community_id") if w.subject == C else F("worker_id")
    return _out(
        _visits(w).annotate(subject=subject),
        ref=F("pk"),
        value=_flag(Q(flag="")),
        excluded=_excluded(When(~Exists(photo), then=Value("visit_no_photo"))),
    )


def alert_follow_up_24h(w: Window) -> QuerySet[Any]:
    """Follow-up visits after emergencies raised in the period, done by their deadline (24 h)."""
    qs = VisitTask.objects.filter(
        community__district_id=w.district_id,
        kind=TaskKind.ALERT_FOLLOW_UP,
        created_at__gte=w.starts_at,
        created_at__lt=w.ends_at,
    )
    done = Q(state=VisitTask.State.DONE, done_at__lte=F("due_at"), done_by_visit__flag="")
    return _out(
        qs.annotate(subject=_by_grid(w, "grid")).filter(subject__isnull=False),
        ref=F("pk"),
        value=_flag(done),
        excluded=Value(""),
    )


def findings_followed(w: Window) -> QuerySet[Any]:
    """Findings that asked for a follow-up visit or a case: the visit done, or the case opened."""
    qs = VisitFinding.objects.filter(
        visit__in=_visits(w),
        action__in=[VisitFinding.Action.FOLLOW_UP, VisitFinding.Action.SERVICE_CASE],
    )
    subject = F("visit__community_id") if w.subject == C else F("visit__worker_id")
    done = Q(follow_up_task__state=VisitTask.State.DONE) | Q(
        case_state=VisitFinding.CaseState.OPENED
    )
    return _out(qs.annotate(subject=subject), ref=F("pk"), value=_flag(done), excluded=Value(""))


def _tier1(w: Window) -> QuerySet[AlertRecipient]:
    return AlertRecipient.objects.filter(
        tier=1,
        alert__kind=AlertKind.EMERGENCY,
        alert__community__district_id=w.district_id,
        alert__created_at__gte=w.starts_at,
        alert__created_at__lt=w.ends_at,
    )


def tier1_ack(w: Window) -> QuerySet[Any]:
    """Seconds from a tier-1 call to its acknowledgement (never acknowledged: an hour)."""
    subject = F("alert__community_id") if w.subject == C else F("user_id")
    seconds = Coalesce(Seconds(F("acknowledged_at"), F("notified_at")), Value(NEVER_ACKNOWLEDGED_S))
    return _out(
        _tier1(w).annotate(subject=subject), ref=F("alert_id"), value=seconds, excluded=Value("")
    )


def _emergencies(w: Window) -> QuerySet[Alert]:
    return Alert.objects.filter(
        kind=AlertKind.EMERGENCY,
        community__district_id=w.district_id,
        created_at__gte=w.starts_at,
        created_at__lt=w.ends_at,
    )


def accept_time(w: Window) -> QuerySet[Any]:
    """Seconds from an emergency to its acceptance, for the worker who accepted it."""
    subject = F("community_id") if w.subject == C else F("accepted_by_id")
    qs = _emergencies(w).filter(accepted_at__isnull=False).annotate(subject=subject)
    return _out(
        qs, ref=F("pk"), value=Seconds(F("accepted_at"), F("created_at")), excluded=Value("")
    )


def answered_per_policy(w: Window) -> QuerySet[Any]:
    """Emergencies accepted within the community's tier-1 timeout (the escalation policy)."""
    ids = Community.objects.filter(district_id=w.district_id).values_list("pk", flat=True)
    limits = [
        When(community_id=cid, then=Value(float(policy_for(cid, AlertKind.EMERGENCY).timeout(1))))
        for cid in ids
    ]
    limit = Case(*limits, default=Value(60.0), output_field=FloatField())
    qs = _emergencies(w).annotate(subject=F("community_id"), limit=limit)
    seconds = Seconds(F("accepted_at"), F("created_at"))
    answered = Q(accepted_at__isnull=False) & Q(limit__gte=seconds)
    return _out(
        qs,
        ref=F("pk"),
        value=_flag(answered),
        excluded=_excluded(When(state=Alert.State.CANCELLED, then=Value("alert_cancelled"))),
    )


# -- A post (职能岗位) -------------------------------------------------------------------------


def _duplicate() -> Exists:
    earlier = ServiceCase.objects.filter(
        resident=OuterRef("resident"),
        item=OuterRef("item"),
        created_at__lt=OuterRef("created_at"),
        created_at__gte=OuterRef("created_at") - DUPLICATE_WITHIN,
    )
    return Exists(earlier)


def _handled(w: Window) -> QuerySet[Any]:
    """Cases decided in the period, by their assignee (the A post), or in their community."""
    subject = F("community_id") if w.subject == C else F("assignee_id")
    return ServiceCase.objects.filter(
        district_id=w.district_id,
        decided_at__gte=w.starts_at,
        decided_at__lt=w.ends_at,
        assignee__isnull=False,
    ).annotate(subject=subject)


def _case_exclusions() -> Case:
    return _excluded(
        When(filed_by_id=F("assignee_id"), then=Value("case_self_approved")),
        When(_duplicate(), then=Value("case_duplicate")),
    )


def cases_handled(w: Window) -> QuerySet[Any]:
    return _out(_handled(w), ref=F("pk"), value=Value(1.0), excluded=_case_exclusions())


def on_time(w: Window) -> QuerySet[Any]:
    """按期办结率: decided before the working-day SLA clock ran out."""
    return _out(
        _handled(w),
        ref=F("pk"),
        value=_flag(Q(overdue_at__isnull=True)),
        excluded=_case_exclusions(),
    )


def _material_requests() -> Any:
    return Count("steps", filter=Q(steps__kind="request_material"))


def material_requests(w: Window) -> QuerySet[Any]:
    """Cases decided that needed at least one request for more material (补正)."""
    qs = _handled(w).annotate(requests=_material_requests())
    return _out(qs, ref=F("pk"), value=_flag(Q(requests__gte=1)), excluded=_case_exclusions())


def rework(w: Window) -> QuerySet[Any]:
    """Cases sent back more than once for material: the work was not right the first time."""
    qs = _handled(w).annotate(requests=_material_requests())
    return _out(qs, ref=F("pk"), value=_flag(Q(requests__gte=2)), excluded=_case_exclusions())


def bounces(w: Window) -> QuerySet[Any]:
    """Reassignments (转办) made in the period: each a bounce the A post caused."""
    qs = CaseStep.objects.filter(
        kind="reassign",
        case__district_id=w.district_id,
        at__gte=w.starts_at,
        at__lt=w.ends_at,
        actor__isnull=False,
    )
    subject = F("case__community_id") if w.subject == C else F("actor_id")
    return _out(qs.annotate(subject=subject), ref=F("pk"), value=Value(1.0), excluded=Value(""))


def case_rating(w: Window) -> QuerySet[Any]:
    """The residents' ratings of the cases (1-5 as 20-100); one recorded by the rated worker's
    own account is excluded."""
    qs = CaseRating.objects.filter(
        case__district_id=w.district_id,
        case__assignee__isnull=False,
        at__gte=w.starts_at,
        at__lt=w.ends_at,
    )
    subject = F("case__community_id") if w.subject == C else F("case__assignee_id")
    own = Q(recorded_by_id=F("case__assignee_id")) | Q(recorded_by_id=F("case__filed_by_id"))
    return _out(
        qs.annotate(subject=subject),
        ref=F("case_id"),
        value=F("score") * 20.0,
        excluded=_excluded(When(own, then=Value("rating_own_phone"))),
    )


# -- satisfaction (满意度) ---------------------------------------------------------------------


def _follow_ups(w: Window, panel: bool) -> QuerySet[Any]:
    qs = FollowUp.objects.filter(
        community__district_id=w.district_id,
        state__in=[FollowUp.State.RATED, FollowUp.State.DECLINED],
        answered_at__gte=w.starts_at,
        answered_at__lt=w.ends_at,
    )
    qs = qs.filter(source=FollowUp.Source.PANEL) if panel else qs.exclude(source="panel")
    if w.subject == C:
        return qs.annotate(subject=F("community_id"))
    return qs.annotate(subject=F("workers")).filter(subject__isnull=False)


def _own_phone() -> Exists:
    """The answer came from a rated worker's account or phone."""
    rated = FollowUp.workers.through.objects.filter(followup_id=OuterRef("pk"))
    return Exists(
        rated.filter(
            Q(user_id=OuterRef("answered_by_id")) | Q(user__phone=OuterRef("answer_phone"))
        )
    )


def _satisfaction(panel: bool) -> Callable[[Window], QuerySet[Any]]:
    def rows(w: Window) -> QuerySet[Any]:
        return _out(
            _follow_ups(w, panel),
            ref=F("pk"),
            value=Coalesce(F("score") * 20.0, Value(0.0), output_field=FloatField()),
            excluded=_excluded(
                When(state=FollowUp.State.DECLINED, then=Value("follow_up_declined")),
                When(_own_phone(), then=Value("rating_own_phone")),
            ),
        )

    return rows


SPECS: dict[str, Spec] = {
    s.code: s
    for s in [
        Spec("b_coverage", "走访覆盖率", "households visited", "rate", "share", "household",
             frozenset({W, C}), coverage),
        Spec("b_vulnerable_on_schedule", "重点户按期走访率", "vulnerable visited on schedule",
             "rate", "share", "task", frozenset({W, C}), vulnerable_on_schedule),
        Spec("b_fence_pass", "签到围栏通过率", "geofence pass rate", "rate", "share", "visit",
             frozenset({W, C}), fence_pass, miss_reason="visit_flagged"),
        Spec("b_alert_follow_up_24h", "求助后24小时回访率", "alert follow-ups within 24 h",
             "rate", "share", "task", frozenset({W, C}), alert_follow_up_24h),
        Spec("b_tier1_ack_p50", "一级响应确认时间P50", "tier-1 acknowledge p50", "p50",
             "seconds", "alert", frozenset({W, C}), tier1_ack),
        Spec("b_tier1_ack_p90", "一级响应确认时间P90", "tier-1 acknowledge p90", "p90",
             "seconds", "alert", frozenset({W, C}), tier1_ack),
        Spec("b_accept_p50", "接警时间P50", "accept time p50", "p50", "seconds", "alert",
             frozenset({W, C}), accept_time),
        Spec("b_accept_p90", "接警时间P90", "accept time p90", "p90", "seconds", "alert",
             frozenset({W, C}), accept_time),
        Spec("b_findings_followed", "走访发现跟进率", "findings followed up", "rate", "share",
             "finding", frozenset({W, C}), findings_followed),
        Spec("a_cases_handled", "办件量", "cases handled", "count", "cases", "case",
             frozenset({OF, C}), cases_handled),
        Spec("a_on_time", "按期办结率", "on-time rate", "rate", "share", "case",
             frozenset({OF, C}), on_time),
        Spec("a_bounces", "转办次数", "reassignments caused", "count", "cases", "step",
             frozenset({OF, C}), bounces),
        Spec("a_material_requests", "补正率", "cases needing more material", "rate", "share",
             "case", frozenset({OF, C}), material_requests),
        Spec("a_rework", "返工率", "rework (repeated material requests)", "rate", "share",
             "case", frozenset({OF, C}), rework),
        Spec("a_rating", "办件评价", "average case rating", "mean", "points", "rating",
             frozenset({OF, C}), case_rating),
        Spec("s_follow_up", "回访满意度", "follow-up satisfaction", "mean", "points",
             "follow_up", frozenset({W, OF, C}), _satisfaction(panel=False)),
        Spec("s_panel", "年度居民测评", "yearly resident panel", "mean", "points", "follow_up",
             frozenset({W, OF, C}), _satisfaction(panel=True)),
        Spec("c_alert_answered", "按策略接警率", "alerts answered within the policy", "rate",
             "share", "alert", frozenset({C}), answered_per_policy),
    ]
}  # fmt: skip

CODE_CHOICES = [(code, f"{s.label_zh} {s.label_en}") for code, s in SPECS.items()]
