"""Community life: notices to the households of an area (居务公开 / 公示) with an objection window
and read receipts, consultative polls (协商议事 polls, not elections), and hearings (听证会 /
论证会 / 协商议事会) with the affected households, and volunteers (志愿服务) matched to the
households that need them, with the social organisations (社会组织) of each community.

Everything is addressed to an area (`Addressed`): the district, a community, some grids, some
buildings, or a polygon drawn on the map; the households inside are fixed when the notice is
published (or the poll opened), so a receipt, a roll and a turnout always refer to one list.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone

from backend.people.models import Resident
from backend.territory.models import Community, District, Grid, Household


class AreaKind(models.TextChoices):
    DISTRICT = "district", "全区 the whole district"
    COMMUNITY = "community", "社区 a community"
    GRIDS = "grids", "网格 some grids"
    BUILDINGS = "buildings", "楼栋 some buildings"
    POLYGON = "polygon", "地图圈选 a polygon on the map"


class Addressed(models.Model):
    """Who a notice, poll or hearing is for. `community` is empty only for the district."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    area_kind = models.CharField(max_length=10, choices=AreaKind.choices)
    area_ids = models.JSONField(default=list, blank=True, help_text="grid or building ids")
    area_polygon = models.MultiPolygonField(srid=4326, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class NoticeKind(models.TextChoices):
    AFFAIRS = "affairs", "居务公开 community affairs"
    FINANCE = "finance", "财务公开 finance"
    SERVICES = "services", "服务公告 services"
    ASSESSMENT = "assessment", "评议结果 assessment results"
    HEARING = "hearing", "听证会通知 hearing invitation"
    HEARING_OUTCOME = "hearing_outcome", "听证结果 hearing outcome"
    POLL_RESULT = "poll_result", "议事结果 poll result"


class Notice(Addressed):
    """A notice (公示) shown to the households of its area for `window_days` after publishing;
    objections during the window become service-desk cases of `objection_item`."""

    class State(models.TextChoices):
        DRAFT = "draft", "草稿 draft"
        PUBLISHED = "published", "已发布 published"

    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    window_days = models.PositiveSmallIntegerField(default=7)
    door_after_hours = models.PositiveSmallIntegerField(
        default=48, help_text="households not reached by then go on the workers' visit lists"
    )
    send_sms = models.BooleanField(default=True, help_text="text each household a link")
    objection_item = models.ForeignKey(
        "servicedesk.ServiceItem", on_delete=models.PROTECT, null=True, blank=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ends_at = models.DateTimeField(null=True, blank=True, help_text="end of the window")

    def __str__(self) -> str:
        return self.title

    def in_window(self, at: datetime | None = None) -> bool:
        now = at or timezone.now()
        return (
            self.state == self.State.PUBLISHED
            and self.published_at is not None
            and self.ends_at is not None
            and self.published_at <= now < self.ends_at
        )


class ReadChannel(models.TextChoices):
    APP = "app", "居民端 resident app"
    SMS = "sms", "短信链接 SMS link"
    IN_PERSON = "in_person", "网格员当面告知 told in person on a visit"


def _token() -> str:
    return uuid.uuid4().hex


class NoticeAddressee(models.Model):
    """One household a published notice is for, and whether (and how) it was reached."""

    class Sms(models.TextChoices):
        PENDING = "pending", "待发送 pending"
        SENT = "sent", "已发送 sent"
        NO_PHONE = "no_phone", "无手机号 no mobile number"
        FAILED = "failed", "发送失败 failed"
        OFF = "off", "不发短信 no SMS for this notice"

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="addressees")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    link_token = models.CharField(max_length=32, unique=True, default=_token)
    sms_state = models.CharField(max_length=10, choices=Sms.choices, default=Sms.PENDING)
    sms_attempts = models.PositiveSmallIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    read_channel = models.CharField(max_length=10, choices=ReadChannel.choices, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    read_visit_uuid = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "household"], name="one_addressee")
        ]
        indexes = [
            models.Index(fields=["notice", "grid", "read_at"]),
            models.Index(fields=["household", "notice"]),
            models.Index(
                fields=["id"], name="notice_sms_pending", condition=Q(sms_state="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id}/{self.household_id}"


def _attachment_path(instance: NoticeAttachment, filename: str) -> str:
    return f"notices/{instance.notice_id}/{uuid.uuid4().hex}/{filename}"


class NoticeAttachment(models.Model):
    """A photo (re-encoded by the photo pipeline) or a PDF shown with a notice."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "照片 photo"
        PDF = "pdf", "PDF"

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    label = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to=_attachment_path)
    size = models.PositiveIntegerField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.notice_id} {self.kind} {self.label}"


class NoticeObjection(models.Model):
    """An objection (异议) raised during the window: the case carries it from there."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="objections")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    case = models.OneToOneField("servicedesk.Case", on_delete=models.PROTECT, related_name="+")
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.notice_id} -> case {self.case_id}"


# -- consultative polls -------------------------------------------------------------------------


class Poll(Addressed):
    """A consultative poll (协商议事表决), one vote per household or per adult resident.

    A secret poll keeps no link between a voter and a choice: who voted is in `PollVoter`
    (the audit trail), the choices only as counts in `PollOption.votes`."""

    class Unit(models.TextChoices):
        HOUSEHOLD = "household", "每户一票 one vote per household"
        ADULT = "adult", "每位成年居民一票 one vote per adult resident"

    class State(models.TextChoices):
        DRAFT = "draft", "草稿 draft"
        OPEN = "open", "投票中 open"
        CLOSED = "closed", "已结束 closed"

    title = models.CharField(max_length=200)
    question = models.TextField()
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.HOUSEHOLD)
    secret = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    closes_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    result_notice = models.OneToOneField(
        Notice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return self.title


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=200)
    votes = models.PositiveIntegerField(default=0, help_text="the tally: a count, no voters")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "position"], name="one_option_position")
        ]

    def __str__(self) -> str:
        return self.label


class PollRoll(models.Model):
    """A household on the poll's roll, fixed when the poll opens."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="roll")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "household"], name="one_roll_household")
        ]

    def __str__(self) -> str:
        return f"{self.poll_id}/{self.household_id}"


class PollVoter(models.Model):
    """Who voted (not how, in a secret poll): one row per household or adult resident."""

    class Channel(models.TextChoices):
        APP = "app", "居民端 resident app"
        DOOR = "door", "网格员上门 at the door, confirmed by photo"
        VOICE = "voice", "语音电话按键 by keypress on a voice call"

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="voters")
    unit_key = models.CharField(max_length=24, help_text="h:<household> or r:<resident>")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmation_photo = models.ForeignKey(
        "photos.Photo", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Only in an open (not secret) poll.
    option = models.ForeignKey(
        PollOption, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "unit_key"], name="one_vote")]

    def __str__(self) -> str:
        return f"{self.poll_id} {self.unit_key}"


# -- hearings -----------------------------------------------------------------------------------


class Hearing(Addressed):
    """A hearing (听证会), argument session (论证会) or consultation (协商议事会) on a matter
    that touches residents' real interests; its invitation and its outcome are notices."""

    class Kind(models.TextChoices):
        HEARING = "hearing", "听证会 hearing"
        ARGUMENT = "argument", "论证会 expert argument"
        CONSULTATION = "consultation", "协商议事会 consultation"

    class State(models.TextChoices):
        PLANNED = "planned", "筹备中 planned"
        INVITED = "invited", "已通知 invitations out"
        CONCLUDED = "concluded", "已结束 concluded"

    kind = models.CharField(max_length=15, choices=Kind.choices, default=Kind.HEARING)
    title = models.CharField(max_length=200)
    topic = models.TextField()
    place = models.CharField(max_length=200)
    meeting_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    invitation = models.OneToOneField(Notice, on_delete=models.PROTECT, related_name="+")
    outcome_notice = models.OneToOneField(
        Notice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    minutes = models.TextField(blank=True)
    outcome = models.TextField(blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title


class HearingParticipant(models.Model):
    """An invited household that registered and/or came (checked in at the meeting place)."""

    hearing = models.ForeignKey(Hearing, on_delete=models.CASCADE, related_name="participants")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registered_at = models.DateTimeField(null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registered_via = models.CharField(
        max_length=10,
        blank=True,
        default="",
        db_default="",
        help_text="app, staff, or voice (keypress 1)",
    )
    attended_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hearing", "household"], name="one_participant")
        ]

    def __str__(self) -> str:
        return f"{self.hearing_id}/{self.household_id}"


class HearingOpinion(models.Model):
    """An opinion (意见) with who gave it and which household; how it was recorded."""

    class Via(models.TextChoices):
        WRITING = "writing", "书面 in writing (app)"
        DOOR = "door", "网格员上门记录 at the door"
        MEETING = "meeting", "会上发言 at the meeting"

    hearing = models.ForeignKey(Hearing, on_delete=models.CASCADE, related_name="opinions")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    via = models.CharField(max_length=10, choices=Via.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.hearing_id} {self.text[:30]}"


class HearingFollowUp(models.Model):
    """An action the outcome calls for: a visit task or a service-desk case."""

    class Kind(models.TextChoices):
        TASK = "task", "走访任务 visit task"
        CASE = "case", "服务台办件 service-desk case"

    hearing = models.ForeignKey(Hearing, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(
        "visits.VisitTask", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "servicedesk.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300)

    def __str__(self) -> str:
        return f"{self.hearing_id} {self.kind}"


# -- volunteers and social organisations --------------------------------------------------------


class Skill(models.TextChoices):
    ACCOMPANY = "accompany", "陪同就医 accompany to hospital"
    CALL = "call", "电话问候 a weekly call"
    ERRANDS = "errands", "代购代办 shopping and errands"
    REPAIR = "repair", "小修小补 small repairs"
    COMPANY = "company", "陪伴聊天 company"
    OTHER = "other", "其他 other"


class Volunteer(models.Model):
    """A resident who volunteers (志愿者). Matched to tasks only with `consent_at` set (their
    consent to be offered tasks and shown, minimally, to the person they help)."""

    resident = models.OneToOneField(Resident, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    skills = models.JSONField(default=list)
    availability = models.CharField(max_length=200, blank=True)
    max_distance_m = models.PositiveIntegerField(default=1000)
    consent_at = models.DateTimeField(null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"volunteer {self.resident_id}"


class SocialOrganisation(models.Model):
    """A social organisation (社会组织) serving a community: the community's extra hands."""

    class Kind(models.TextChoices):
        VOLUNTEER_TEAM = "volunteer_team", "志愿服务队 volunteer team"
        SOCIAL_WORK = "social_work", "社工机构 social work agency"
        CHARITY = "charity", "公益慈善 charity"
        RESIDENTS = "residents", "居民自组织 residents' association"
        OTHER = "other", "其他 other"

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    services = models.TextField(blank=True)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class VolunteerTask(models.Model):
    """A need (accompany to hospital, a weekly call, help after a follow-up visit) of one
    household, offered to consenting volunteers near it. It belongs to the grid: the worker
    stays responsible."""

    class State(models.TextChoices):
        OPEN = "open", "待认领 open"
        ACCEPTED = "accepted", "已认领 accepted"
        DONE = "done", "已完成 done (hours recorded)"

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    skill = models.CharField(max_length=10, choices=Skill.choices)
    description = models.CharField(max_length=500)
    due_at = models.DateTimeField()
    radius_m = models.PositiveIntegerField(default=1000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    hours = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    hours_recorded_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.skill} {self.household_id} {self.state}"


class VolunteerOffer(models.Model):
    """A task offered to one volunteer (the match), with how far they live from it."""

    task = models.ForeignKey(VolunteerTask, on_delete=models.CASCADE, related_name="offers")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="offers")
    distance_m = models.FloatField()
    offered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "volunteer"], name="one_offer")]

    def __str__(self) -> str:
        return f"{self.task_id} -> {self.volunteer_id}"


# -- grid self-governance groups -----------------------------------------------------------------


class SelfGovernanceGroup(models.Model):
    """A grid self-governance group (网格自治小组): residents, building heads and deputies who
    take part in their grid's affairs; the grid worker and the supervisor look after it."""

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    class Role(models.TextChoices):
        LEADER = "leader", "组长 leader"
        MEMBER = "member", "组员 member"
        BUILDING_HEAD = "building_head", "楼栋长 building head"
        DEPUTY = "deputy", "人大代表 deputy to the people's congress"

    group = models.ForeignKey(SelfGovernanceGroup, on_delete=models.CASCADE, related_name="members")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=15, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "resident"], name="one_membership"),
            models.UniqueConstraint(
                fields=["group"], condition=Q(role="leader"), name="one_group_leader"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}/{self.resident_id} {self.role}"


class GroupMeeting(models.Model):
    """A meeting of the group: agenda, who attended, minutes."""

    group = models.ForeignKey(
        SelfGovernanceGroup, on_delete=models.CASCADE, related_name="meetings"
    )
    held_at = models.DateTimeField()
    place = models.CharField(max_length=200)
    agenda = models.TextField()
    minutes = models.TextField(blank=True)
    attendees = models.ManyToManyField(GroupMember, blank=True, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.group_id} {self.held_at:%Y-%m-%d}"


class GroupProposal(models.Model):
    """A topic the group proposes for consultation (a poll, a hearing): the supervisor takes
    it up or declines it, with a note."""

    class State(models.TextChoices):
        PROPOSED = "proposed", "已提议 proposed"
        TAKEN_UP = "taken_up", "已采纳 taken up"
        DECLINED = "declined", "未采纳 declined"

    group = models.ForeignKey(
        SelfGovernanceGroup, on_delete=models.CASCADE, related_name="proposals"
    )
    title = models.CharField(max_length=200)
    text = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return self.title


class GroupActivity(models.Model):
    """The group's activity log (活动记录): members joining, meetings, proposals, activities."""

    group = models.ForeignKey(
        SelfGovernanceGroup, on_delete=models.CASCADE, related_name="activity"
    )
    kind = models.CharField(max_length=20)
    text = models.CharField(max_length=500)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.group_id} {self.kind}"


# -- topics proposed by residents and groups (民主议事) ------------------------------------------


class TopicSettings(models.Model):
    """Per community (or the district default when empty): how many residents of a grid must
    support a topic before it goes on the grid's agenda."""

    community = models.OneToOneField(
        Community, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    support_threshold = models.PositiveSmallIntegerField(
        default=10, help_text="supporters (the proposer included) for the grid's agenda"
    )

    class Meta:
        verbose_name_plural = "topic settings"

    def __str__(self) -> str:
        return f"{self.community or 'district'}: {self.support_threshold}"


class Topic(models.Model):
    """A topic for consultation (议题) proposed by a resident of a grid or by a grid's group;
    residents of the grid support it; at the community's threshold it goes on the grid's
    agenda, and from there it may become a poll or a hearing. The grid's worker moderates:
    a topic may be rejected with a reason (then only its proposer still sees it)."""

    class State(models.TextChoices):
        OPEN = "open", "征集联名 collecting support"
        AGENDA = "agenda", "列入议程 on the grid's agenda"
        TAKEN_UP = "taken_up", "已转表决/听证 became a poll or a hearing"
        REJECTED = "rejected", "未通过审核 rejected by the grid worker"

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    text = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    resident = models.ForeignKey(
        Resident,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the proposing resident (empty for a group's topic)",
    )
    group = models.ForeignKey(
        SelfGovernanceGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="topics"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    supporters = models.PositiveIntegerField(default=0)
    threshold = models.PositiveSmallIntegerField(help_text="the community's, when proposed")
    agenda_at = models.DateTimeField(null=True, blank=True)
    poll = models.OneToOneField(
        Poll, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hearing = models.OneToOneField(
        Hearing, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["grid", "state"])]

    def __str__(self) -> str:
        return self.title


class TopicSupport(models.Model):
    """One resident's support (联名) of a topic: in the app, or recorded at the door."""

    class Via(models.TextChoices):
        APP = "app", "居民端 resident app"
        DOOR = "door", "网格员上门 at the door"
        PROPOSER = "proposer", "提议人 the proposer"

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="supports")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    via = models.CharField(max_length=10, choices=Via.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "resident"], name="one_topic_support")
        ]

    def __str__(self) -> str:
        return f"{self.topic_id}/{self.resident_id}"


# -- voice calls for residents without smartphones ----------------------------------------------


class CommunityCall(models.Model):
    """A voice call (through the notify outbox) to a resident without a smartphone: a poll
    read out, keypress N = option N; or a hearing's invitation, keypress 1 = attend. It keeps
    no key pressed: in a secret poll nothing here, in the outbox or in the callbacks joins a
    voter to a choice (the vote itself is a `PollVoter` of channel voice)."""

    class Kind(models.TextChoices):
        POLL = "poll", "表决 a poll"
        HEARING = "hearing", "听证会邀请 a hearing invitation"

    class State(models.TextChoices):
        QUEUED = "queued", "待拨打 queued"
        CALLED = "called", "已拨打 placed"
        ANSWERED = "answered", "已接听 answered"
        NO_ANSWER = "no_answer", "未接听 not answered"
        FAILED = "failed", "呼叫失败 failed"
        DONE = "done", "已按键 voted / registered"
        REFUSED = "refused", "按键未采纳 keypress refused (see outcome)"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    poll = models.ForeignKey(
        Poll, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    hearing = models.ForeignKey(
        Hearing, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    message = models.OneToOneField(
        "notify.OutboxMessage", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(max_length=40, blank=True, help_text="why a keypress was refused")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["poll", "resident"]),
            models.Index(fields=["hearing", "household"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} call {self.pk} {self.state}"
