"""Door-to-door visits (走访, 上门服务): the rules that make a household due, the tasks on a
worker's list, and the visit records phones sync, with their check-in and findings.

Workers go to people instead of waiting for them (变坐等服务为主动上门服务): each household is
visited at least as often as the rules of its community say, vulnerable ones more often, and
other parts of the system add one-off tasks (a follow-up after an emergency, a device check).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone

from backend.core.fields import EncryptedJSONField, EncryptedTextField
from backend.territory.models import Community, Grid, Household


class VisitRule(models.Model):
    """How often a kind of household must be visited, by the care tags of its residents.

    A household is matched when one of its residents carries all the tags (match "all") or
    any of them (match "any"); a rule without tags matches every household. The shortest
    interval of the matching rules applies. A community with rules of its own uses only those;
    otherwise the district defaults (rules without a community), otherwise the built-in ones.
    """

    class Match(models.TextChoices):
        ALL = "all", "同时具备 all tags on one resident"
        ANY = "any", "任一 any of the tags"

    community = models.ForeignKey(
        Community,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="visit_rules",
        help_text="empty: a district default for communities without rules of their own",
    )
    name = models.CharField(max_length=100)
    tags = models.JSONField(
        default=list, blank=True, help_text="care tags; empty = every household"
    )
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    interval_days = models.PositiveIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["community_id", "interval_days", "pk"]

    def __str__(self) -> str:
        return f"{self.name} / {self.interval_days} d"


class VisitSettings(models.Model):
    """Per community (or the district default when empty): the check-in geofence."""

    community = models.OneToOneField(
        Community, on_delete=models.CASCADE, null=True, blank=True, related_name="visit_settings"
    )
    checkin_radius_m = models.PositiveIntegerField(default=50)
    max_accuracy_m = models.PositiveIntegerField(
        default=100, help_text="the reported accuracy widens the fence up to this much"
    )

    class Meta:
        verbose_name_plural = "visit settings"

    def __str__(self) -> str:
        return f"{self.community or 'district'}: {self.checkin_radius_m} m"


class TaskKind(models.TextChoices):
    ROUTINE = "routine", "例行走访 routine (by the rules)"
    ALERT_FOLLOW_UP = "alert_follow_up", "紧急求助回访 follow-up after an emergency"
    DEVICE_CHECK = "device_check", "设备检查 device check after it went offline"
    DELIVERY = "delivery", "结果送达 hand delivery of a service-desk result"
    FINDING_FOLLOW_UP = "finding_follow_up", "走访发现跟进 follow-up of a visit finding"
    NOTICE = "notice", "公示告知 tell a household about a notice"
    HEARING_FOLLOW_UP = "hearing_follow_up", "听证跟进 follow-up of a hearing"
    REASSURANCE = "reassurance", "关爱电话未接 two reassurance calls missed"


class VisitTask(models.Model):
    """A visit someone should make: routine ones come from the daily job, one-off ones from
    other parts of the system. A task belongs to a household and so to its grid's B posts."""

    class State(models.TextChoices):
        OPEN = "open", "待走访 open"
        DONE = "done", "已完成 done"
        CANCELLED = "cancelled", "已取消 cancelled"

    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visit_tasks")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="visit_tasks")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    # Why the visit is due (a follow-up's reason may name a finding or an outcome, e.g. taken
    # to hospital): encrypted at rest like the visit's note; at most 300 characters.
    reason = EncryptedTextField()
    data = models.JSONField(default=dict, blank=True)
    source_kind = models.CharField(max_length=20, blank=True, help_text="alert, finding, case")
    source_ref = models.CharField(max_length=64, blank=True)
    due_at = models.DateTimeField(help_text="routine: the day it fell due; one-off: deadline")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="visits with nobody home")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by_visit = models.ForeignKey(
        "Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="completed_tasks"
    )

    class Meta:
        constraints = [
            # The daily job may run twice (or in two dispatchers): one open routine task each.
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(kind="routine", state="open"),
                name="one_open_routine_task",
            ),
            # A source raises its task once, however often it is retried.
            models.UniqueConstraint(
                fields=["kind", "source_kind", "source_ref"],
                condition=~models.Q(source_ref=""),
                name="one_task_per_source",
            ),
        ]
        indexes = [models.Index(fields=["grid", "state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.household_id} {self.state}"


class Visit(models.Model):
    """One visit to a household, written by the worker's phone (offline first).

    `client_uuid` is the phone's id for the record: photos arrive keyed by it, before or after
    the record, and a record synced twice is stored once. `visited_at` is the phone's time,
    `received_at` the server's; `counted_at` (the earlier of the two, so a phone clock set in
    the future cannot push a schedule) is what schedules and coverage use.
    """

    class State(models.TextChoices):
        CHECKED_IN = "checked_in", "已签到 checked in"
        COMPLETED = "completed", "已记录 recorded"

    class Post(models.TextChoices):
        B = "b", "B岗 grid duty"
        A = "a", "A岗 business-line duty"

    class Flag(models.TextChoices):
        NONE = "", "—"
        OUTSIDE = "outside", "签到位置在围栏外 outside the fence"
        INACCURATE = "inaccurate", "定位精度不足 fix too inaccurate"
        NO_FIX = "no_fix", "无定位 no position"

    id = models.BigAutoField(primary_key=True)
    client_uuid = models.UUIDField(unique=True)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits"
    )
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visits")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="visits")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(
        VisitTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="visits"
    )
    post = models.CharField(max_length=1, choices=Post.choices, default=Post.B)
    state = models.CharField(max_length=12, choices=State.choices, default=State.CHECKED_IN)
    visited_at = models.DateTimeField(help_text="the phone's time")
    received_at = models.DateTimeField(default=timezone.now, help_text="the server's time")
    counted_at = models.DateTimeField(help_text="min(visited_at, received_at)")
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="when the record came")
    # check-in (geofence)
    location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True)
    fence_m = models.FloatField(null=True, blank=True)
    flag = models.CharField(max_length=12, choices=Flag.choices, default=Flag.NONE, blank=True)
    # the record
    present = models.BooleanField(null=True, help_text="was the resident at home")
    # Health facts ("血压 160/95"): encrypted at rest like a resident's health notes.
    checklist = EncryptedJSONField(default=dict, blank=True)
    note = EncryptedTextField(blank=True)
    expected_photos = models.JSONField(default=list, blank=True, help_text="client photo ids")

    class Meta:
        indexes = [
            models.Index(fields=["household", "state", "counted_at"]),
            models.Index(fields=["community", "flag", "visited_at"]),
            models.Index(fields=["worker", "visited_at"]),
        ]

    def __str__(self) -> str:
        return f"visit {self.client_uuid} {self.state}"

    @property
    def flagged(self) -> bool:
        return bool(self.flag)


class VisitFinding(models.Model):
    """Something the worker found at the door, and what it opened: a follow-up visit, or a
    service-desk case (the visit sync stores it awaiting the service desk, whose step of the
    same sync files the case: backend.servicedesk.referrals)."""

    class Category(models.TextChoices):
        HEALTH = "health", "健康 health"
        SAFETY = "safety", "安全 safety"
        LIVING = "living", "生活状况 living conditions"
        NEEDS = "needs", "诉求 needs"
        OTHER = "other", "其他 other"

    class Action(models.TextChoices):
        NONE = "none", "仅记录 record only"
        FOLLOW_UP = "follow_up", "安排跟进走访 follow-up visit"
        SERVICE_CASE = "service_case", "转服务台办理 service-desk case"

    class CaseState(models.TextChoices):
        NONE = "", "—"
        AWAITING = "awaiting_service_desk", "待服务台受理 awaiting the service desk"
        OPENED = "opened", "已立案 opened"

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="findings")
    category = models.CharField(max_length=10, choices=Category.choices)
    description = EncryptedTextField()
    action = models.CharField(max_length=12, choices=Action.choices, default=Action.NONE)
    follow_up_task = models.ForeignKey(
        VisitTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case_state = models.CharField(max_length=24, choices=CaseState.choices, blank=True)
    case_ref = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.category}: {self.description[:40]}"
