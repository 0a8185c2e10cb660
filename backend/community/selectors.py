"""Reads of notices, polls, hearings, volunteers and groups, already narrowed to the caller.

Staff see what is addressed to households in their scope (a worker: their B-post grids; a
supervisor: their community; a district administrator: the district) and what they authored
for their community; a resident sees only what is published to their own household. Out of
scope is 404, the same answer as a missing id.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.audit.actions import do_record_read
from backend.audit.models import AuditEvent
from backend.core.errors import ApiError, NotFound
from backend.core.personal import age_on
from backend.territory.models import Household
from backend.territory.scope import Scope, scope_filter

from .models import (
    GroupProposal,
    Hearing,
    HearingOpinion,
    Notice,
    NoticeAddressee,
    NoticeAttachment,
    Poll,
    PollVoter,
    SelfGovernanceGroup,
    SocialOrganisation,
    Topic,
    Volunteer,
    VolunteerOffer,
    VolunteerTask,
)


def check_staff(user: User) -> None:
    """Receipts, rolls and opinions are the staff's working lists, not a resident's."""
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)


def _is_resident(scope: Scope) -> bool:
    return scope.resident_id is not None or scope.household_id is not None


def _addressed_filter(scope: Scope, through: str, published: Q) -> Q:
    """Rows addressed (through `through`, the addressee/roll relation) to households in
    scope, or authored for a community in scope; a resident sees only published rows."""
    mine = Q(community_id__in=scope.community_ids) if scope.community_ids else None
    q = scope_filter(
        scope,
        grid=f"{through}__grid_id",
        community=f"{through}__grid__community_id",
        district="district_id",
        household=f"{through}__household_id",
        also=None if _is_resident(scope) else mine,
    )
    if _is_resident(scope):
        q &= published
    return q


def notice_filter(scope: Scope) -> Q:
    q = _addressed_filter(scope, "addressees", Q(state=Notice.State.PUBLISHED))
    return Q(pk__in=Notice.objects.filter(q).values("pk"))


def notices_for(user: User, *, archive: bool = False) -> QuerySet[Notice]:
    """Notices in scope: in their window (and drafts, for staff), or with `archive` those
    whose window has ended, newest first."""
    now = timezone.now()
    qs = Notice.objects.filter(notice_filter(scope_for(user)))
    ended = Q(state=Notice.State.PUBLISHED, ends_at__lte=now)
    qs = qs.filter(ended) if archive else qs.exclude(ended)
    return qs.select_related("community").order_by("-published_at", "-pk")


def get_notice(user: User, notice_id: int) -> Notice:
    notice = (
        Notice.objects.filter(notice_filter(scope_for(user)), pk=notice_id)
        .select_related("community", "objection_item")
        .first()
    )
    if notice is None:
        raise NotFound()
    return notice


def get_attachment(user: User, notice_id: int, attachment_id: int) -> NoticeAttachment:
    notice = get_notice(user, notice_id)
    row = NoticeAttachment.objects.filter(notice=notice, pk=attachment_id).first()
    if row is None:
        raise NotFound()
    return row


def addressee_of(notice: Notice, household_id: int) -> NoticeAddressee:
    row = NoticeAddressee.objects.filter(notice=notice, household_id=household_id).first()
    if row is None:
        raise NotFound()
    return row


def household_in_scope(scope: Scope, household_id: int) -> Household:
    """A household the (staff) caller may visit: one of their grids, community or district."""
    q = scope_filter(
        scope,
        grid="grid_id",
        community="grid__community_id",
        district="grid__community__district_id",
        household="pk",
    )
    household = Household.objects.filter(q, pk=household_id).select_related("grid").first()
    if household is None:
        raise NotFound()
    return household


def unreached(user: User, notice_id: int) -> QuerySet[NoticeAddressee]:
    """The households of the caller's scope the notice has not reached yet (by any channel)."""
    notice = get_notice(user, notice_id)
    check_staff(user)
    scope = scope_for(user)
    q = scope_filter(
        scope, grid="grid_id", community="grid__community_id", district="notice__district_id"
    )
    return (
        NoticeAddressee.objects.filter(q, notice=notice, read_at__isnull=True)
        .select_related("household", "grid")
        .order_by("grid_id", "household_id")
    )


def receipts(user: User, notice_id: int) -> dict[str, int]:
    """How many households the notice is for, and how many each channel reached."""
    notice = get_notice(user, notice_id)
    check_staff(user)
    counts = NoticeAddressee.objects.filter(notice=notice).aggregate(
        total=Count("pk"),
        app=Count("pk", filter=Q(read_channel="app")),
        sms=Count("pk", filter=Q(read_channel="sms")),
        in_person=Count("pk", filter=Q(read_channel="in_person")),
        sms_sent=Count("pk", filter=Q(sms_state="sent")),
    )
    counts["unreached"] = counts["total"] - counts["app"] - counts["sms"] - counts["in_person"]
    return counts


# -- polls --------------------------------------------------------------------------------------


def poll_filter(scope: Scope) -> Q:
    published = Q(state__in=[Poll.State.OPEN, Poll.State.CLOSED])
    return Q(pk__in=Poll.objects.filter(_addressed_filter(scope, "roll", published)).values("pk"))


def polls_for(user: User) -> list[Poll]:
    """Polls in scope; a resident sees only the polls they may vote in (an adult-resident
    poll is not shown to a minor's account)."""
    qs = Poll.objects.filter(poll_filter(scope_for(user))).order_by("-pk")
    polls = list(qs.prefetch_related("options"))
    if user.resident is not None and age_on(user.resident.birth_date) < 18:
        polls = [p for p in polls if p.unit != Poll.Unit.ADULT]
    return polls


def get_poll(user: User, poll_id: int, *, for_update: bool = False) -> Poll:
    qs = Poll.objects.filter(poll_filter(scope_for(user)), pk=poll_id)
    poll = (qs.select_for_update(of=("self",)) if for_update else qs).first()
    if poll is None:
        raise NotFound()
    return poll


def voters(user: User, poll_id: int, *, client: str = "") -> QuerySet[PollVoter]:
    """The audit trail of who voted (never how, in a secret poll), narrowed to the caller's
    households; the read itself is audited (the roll is personal data)."""
    poll = get_poll(user, poll_id)
    check_staff(user)
    scope = scope_for(user)
    q = scope_filter(
        scope, grid="grid_id", community="grid__community_id", district="poll__district_id"
    )
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VIEW_VOTER_ROLL,
        target_type="poll",
        target_id=poll.pk,
        client=client,
    )
    return (
        PollVoter.objects.filter(q, poll=poll)
        .select_related("household", "resident", "recorded_by")
        .order_by("voted_at", "pk")
    )


# -- hearings -----------------------------------------------------------------------------------


def hearing_filter(scope: Scope) -> Q:
    published = ~Q(state=Hearing.State.PLANNED)
    q = _addressed_filter(scope, "invitation__addressees", published)
    return Q(pk__in=Hearing.objects.filter(q).values("pk"))


def hearings_for(user: User) -> QuerySet[Hearing]:
    return Hearing.objects.filter(hearing_filter(scope_for(user))).order_by("-meeting_at", "-pk")


def get_hearing(user: User, hearing_id: int) -> Hearing:
    hearing = (
        Hearing.objects.filter(hearing_filter(scope_for(user)), pk=hearing_id)
        .select_related("invitation", "outcome_notice")
        .first()
    )
    if hearing is None:
        raise NotFound()
    return hearing


def opinions(user: User, hearing_id: int) -> QuerySet[HearingOpinion]:
    """The opinions recorded for a hearing, of the households in the caller's scope."""
    hearing = get_hearing(user, hearing_id)
    check_staff(user)
    q = scope_filter(
        scope_for(user),
        grid="grid_id",
        community="grid__community_id",
        district="hearing__district_id",
    )
    return (
        HearingOpinion.objects.filter(q, hearing=hearing)
        .select_related("resident")
        .order_by("at", "pk")
    )


# -- volunteers ---------------------------------------------------------------------------------


def _grid_filter(scope: Scope, *, also: Q | None = None, household: str | None = None) -> Q:
    return scope_filter(
        scope,
        grid="grid_id",
        community="grid__community_id",
        district="grid__community__district_id",
        household=household,
        also=also,
    )


def volunteers_for(user: User) -> QuerySet[Volunteer]:
    """The registry, by the volunteers' grids; a resident sees their own registration."""
    scope = scope_for(user)
    own = Q(resident_id=scope.resident_id) if scope.resident_id else None
    return (
        Volunteer.objects.filter(_grid_filter(scope, also=own))
        .select_related("resident")
        .order_by("pk")
    )


def organisations_for(user: User) -> QuerySet[SocialOrganisation]:
    """Social organisations of the communities the caller works in (or lives in)."""
    scope = scope_for(user)
    q = scope_filter(
        scope,
        grid="community__grids__id",
        community="community_id",
        district="community__district_id",
        household="community__grids__households__id",
    )
    ids = SocialOrganisation.objects.filter(q, active=True).values("pk")
    return SocialOrganisation.objects.filter(pk__in=ids).order_by("name", "pk")


def volunteer_task_filter(scope: Scope) -> Q:
    """Staff: the tasks of their grids. A resident: tasks offered to them as a volunteer, and
    the tasks for their own household (to confirm the hours)."""
    offered = Q(offers__volunteer__resident_id=scope.resident_id) if scope.resident_id else None
    q = _grid_filter(scope, also=offered, household="household_id")
    return Q(pk__in=VolunteerTask.objects.filter(q).values("pk"))


def volunteer_tasks_for(user: User) -> QuerySet[VolunteerTask]:
    return (
        VolunteerTask.objects.filter(volunteer_task_filter(scope_for(user)))
        .select_related("household")
        .order_by("-pk")
    )


def get_volunteer_task(user: User, task_id: int, *, client: str | None = None) -> VolunteerTask:
    """One task; with `client` (a read to show it), the read — of the person helped, by a
    volunteer or the grid's staff — is audited (the helped household's own read is not)."""
    task = volunteer_tasks_for(user).filter(pk=task_id).first()
    if task is None:
        raise NotFound()
    helped = user.resident is not None and user.resident.household_id == task.household_id
    if client is not None and not helped:
        do_record_read(
            actor=user,
            action=AuditEvent.Action.VIEW_VOLUNTEER_MATCH,
            target_type="volunteer_task",
            target_id=task.pk,
            client=client,
        )
    return task


def offers_of(user: User, task_id: int, *, client: str = "") -> list[VolunteerOffer]:
    """The match: the volunteers a task was offered to, nearest first (staff of the task's
    grid). The volunteers' data is personal: the read is audited, naming them."""
    task = get_volunteer_task(user, task_id)
    check_staff(user)
    offers = list(
        VolunteerOffer.objects.filter(task=task)
        .select_related("task", "volunteer__resident")
        .order_by("distance_m", "pk")
    )
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VIEW_VOLUNTEER_MATCH,
        target_type="volunteer_task",
        target_id=task.pk,
        target_ids=[o.volunteer_id for o in offers],
        client=client,
    )
    return offers


# -- self-governance groups ---------------------------------------------------------------------


def groups_for(user: User) -> QuerySet[SelfGovernanceGroup]:
    """Groups of the caller's grids (the worker), community (the supervisor), district; staff
    only: a resident gets none."""
    scope = scope_for(user)
    if _is_resident(scope):
        return SelfGovernanceGroup.objects.none()
    q = scope_filter(
        scope, grid="grid_id", community="community_id", district="community__district_id"
    )
    return SelfGovernanceGroup.objects.filter(q).order_by("grid_id", "pk")


def get_group(user: User, group_id: int) -> SelfGovernanceGroup:
    group = groups_for(user).filter(pk=group_id).first()
    if group is None:
        raise NotFound()
    return group


def proposals_of(user: User, group_id: int) -> QuerySet[GroupProposal]:
    return get_group(user, group_id).proposals.order_by("-proposed_at", "-pk")


# -- topics (民主议事) ---------------------------------------------------------------------------


def topic_filter(scope: Scope) -> Q:
    """Staff: the topics of their grids, community, district. A resident: the topics of their
    own grid, except those rejected (their own rejected ones they still see, with why)."""
    also = None
    if scope.household_id is not None:
        shown = ~Q(state=Topic.State.REJECTED)
        if scope.resident_id is not None:
            shown |= Q(resident_id=scope.resident_id)
        also = Q(grid__households__id=scope.household_id) & shown
    return scope_filter(
        scope,
        grid="grid_id",
        community="community_id",
        district="community__district_id",
        also=also,
    )


def topics_for(user: User, *, state: str | None = None) -> QuerySet[Topic]:
    """Newest first; `state="agenda"` is the grid's agenda."""
    ids = Topic.objects.filter(topic_filter(scope_for(user))).values("pk")
    qs = Topic.objects.filter(pk__in=ids)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-proposed_at", "-pk")


def get_topic(user: User, topic_id: int) -> Topic:
    topic = topics_for(user).filter(pk=topic_id).first()
    if topic is None:
        raise NotFound()
    return topic
