"""The service desk (前台一口受理、后台分类处置): a catalog of service items, cases filed at any
door and routed by category to a back-office queue, their timeline, SLA clocks and ratings.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import BusinessLine
from backend.core.fields import EncryptedTextField
from backend.people.models import Resident
from backend.territory.models import Community, District, Grid, Household


class Category(models.TextChoices):
    ELDERLY = "elderly", "养老服务 elderly services"
    SOCIAL_ASSISTANCE = "social_assistance", "社会救助 social assistance"
    DISABILITY = "disability", "残疾人服务 disability services"
    SOCIAL_INSURANCE = "social_insurance", "社会保险 social insurance"
    MEDICAL_INSURANCE = "medical_insurance", "医疗保障 medical insurance"
    CERTIFICATES = "certificates", "证明开具 certificates"
    HEALTH = "health", "卫生健康 health"
    HOUSING = "housing", "住房保障 housing"
    EMPLOYMENT = "employment", "就业创业 employment"
    FAMILY = "family", "婚育家庭 family"
    VETERANS = "veterans", "退役军人 veterans"
    COMMUNITY_AFFAIRS = "community_affairs", "居务 community affairs (objections to notices)"
    ENVIRONMENT = "environment", "环境卫生 environment"
    FACILITIES = "facilities", "公共设施 public facilities"


# Categories whose requests may be public (Open311 without a key): about places, not people.
PUBLIC_CATEGORIES = (Category.ENVIRONMENT, Category.FACILITIES)


class Department(models.Model):
    """A district department (区直部门) that handles some items itself, e.g. the medical
    insurance bureau. Its members are the officers who work its queue."""

    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="empty: the same department name in every district (the shipped sample)",
    )
    code = models.SlugField(max_length=40, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    def __str__(self) -> str:
        return self.name_zh


class ServiceItem(models.Model):
    """One item of the catalog (服务事项): what a resident can apply for, who handles it and
    in how many working days. Items without a district apply in every district."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True)
    code = models.SlugField(max_length=40, unique=True, help_text="Open311 service_code")
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=150)
    category = models.CharField(max_length=30, choices=Category.choices)
    line = models.CharField(
        max_length=20,
        choices=BusinessLine.choices,
        blank=True,
        help_text="the community A post that handles it (or a district department)",
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True)
    description_zh = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    materials_zh = models.TextField(blank=True, help_text="required materials, one per line")
    materials_en = models.TextField(blank=True, help_text="the same, in English")
    time_limit_days = models.PositiveSmallIntegerField(help_text="statutory limit, working days")
    proxy_allowed = models.BooleanField(default=True, help_text="a worker may file it (代办)")
    in_person_delivery = models.BooleanField(
        default=False, help_text="the result must be handed over at the door"
    )
    active = models.BooleanField(default=True)
    is_sample = models.BooleanField(
        default=False, help_text="shipped as a sample: check against local rules"
    )
    public_requests = models.BooleanField(
        default=False,
        db_default=False,
        help_text="公开事项: its requests are readable through Open311 without an api_key "
        "(no description, no exact address, location to about 100 m). Only environment and "
        "facilities items may be public, never a personal service.",
    )

    class Meta:
        ordering = ["category", "code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(line="") & Q(department__isnull=False))
                | (~Q(line="") & Q(department__isnull=True)),
                name="item_line_xor_department",
            ),
            models.CheckConstraint(
                condition=Q(time_limit_days__gte=1), name="item_time_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(public_requests=False) | Q(category__in=PUBLIC_CATEGORIES),
                name="item_public_only_places",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"

    def materials(self, lang: str = "zh") -> list[str]:
        text = self.materials_en if lang == "en" else self.materials_zh
        return [line.strip() for line in text.splitlines() if line.strip()]


class CalendarDay(models.Model):
    """An exception to Monday-Friday: a public holiday on a weekday (is_workday=False) or a
    make-up working day (调休上班) on a weekend (is_workday=True)."""

    date = models.DateField(unique=True)
    is_workday = models.BooleanField()
    name = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'holiday'} {self.name}"


class CaseState(models.TextChoices):
    DRAFT = "draft", "草稿 draft"
    SUBMITTED = "submitted", "已提交 submitted"
    ACCEPTED = "accepted", "已受理 accepted"
    MATERIAL_NEEDED = "material_needed", "待补材料 more material needed"
    IN_PROGRESS = "in_progress", "办理中 in progress"
    APPROVED = "approved", "已批准 approved"
    REJECTED = "rejected", "不予批准 rejected"
    DELIVERED = "delivered", "已送达 result delivered"
    CLOSED = "closed", "已办结 closed"


# The states in which a case sits in a back-office queue.
OPEN_STATES = (
    CaseState.SUBMITTED,
    CaseState.ACCEPTED,
    CaseState.MATERIAL_NEEDED,
    CaseState.IN_PROGRESS,
)


class Channel(models.TextChoices):
    FRONT_DESK = "front_desk", "窗口 front desk"
    SERVICE_POINT = "service_point", "服务点 service point"
    DOORSTEP = "doorstep", "上门 doorstep"
    PHONE = "phone", "电话 phone"
    RESIDENT_APP = "resident_app", "居民端 resident app"
    OPEN311 = "open311", "Open311"


class Open311Key(models.Model):
    """An integration allowed to file requests through Open311 (POST needs its api_key).

    The key is shown once when created in the admin; only its SHA-256 digest is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True)
    sees_all_requests = models.BooleanField(
        default=False,
        help_text="a trusted government platform: GET shows every case of the district (no "
        "names or ID numbers). Otherwise a key sees only the requests it filed.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Open311 API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class CaseCounter(models.Model):
    """The last case number handed out on a day (numbers are YYYYMMDD + 4 digits)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} {self.last}"


class Case(models.Model):
    """A resident's matter (办件), from intake to the result at the door and the rating."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=16, unique=True, help_text="quoted by the resident")
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="cases")
    state = models.CharField(max_length=20, choices=CaseState.choices, default=CaseState.DRAFT)
    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, null=True, blank=True)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, null=True, blank=True)
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    location = models.PointField(srid=4326, null=True, blank=True)
    address = models.CharField(max_length=300, blank=True)
    # Free text: a referral from a visit carries the finding (often health), an application
    # the resident's circumstances; encrypted at rest like people's health notes.
    description = EncryptedTextField(blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    proxy = models.BooleanField(default=False, help_text="filed by a worker for the resident")
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="filed_cases",
    )
    open311_key = models.ForeignKey(Open311Key, on_delete=models.PROTECT, null=True, blank=True)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    contact_email = models.CharField(max_length=200, blank=True)
    consent_kind = models.CharField(
        max_length=10, blank=True, choices=[("photo", "signed form photo"), ("in_app", "in app")]
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    # The queue: a community A post (line) or a district department; queue_key is what lists use.
    queue_line = models.CharField(max_length=20, choices=BusinessLine.choices, blank=True)
    queue_department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True
    )
    queue_key = models.CharField(max_length=60, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    material_list = models.JSONField(default=list, blank=True)
    decision_reason = models.TextField(blank=True)
    paused_from = models.CharField(max_length=20, blank=True)
    # The SLA clock, in seconds of working-day time (see backend/servicedesk/workdays.py).
    sla_budget_s = models.PositiveIntegerField(default=0)
    sla_used_s = models.PositiveIntegerField(default=0)
    sla_running_since = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["queue_key", "due_at", "id"],
                name="case_open_queue",
                condition=Q(state__in=[s.value for s in OPEN_STATES]),
            ),
            models.Index(fields=["filed_by", "-id"], name="case_filed_by"),
            models.Index(fields=["grid", "-id"], name="case_grid"),
            models.Index(fields=["community", "-id"], name="case_community"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def on_time(self) -> bool | None:
        if self.decided_at is None or self.due_at is None:
            return None
        return self.overdue_at is None


class CaseStep(models.Model):
    """One entry of a case's timeline: who did what, when, and from where."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=30)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    location = models.PointField(srid=4326, null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    duty = models.CharField(
        max_length=1,
        blank=True,
        choices=[("A", "A post (business line)"), ("B", "B post (grid)")],
        help_text="which post the actor acted in, for the assessment (考核)",
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class CaseDocument(models.Model):
    """A photo attached to a case: the signed consent form, a material, the result."""

    class Kind(models.TextChoices):
        CONSENT = "consent", "委托书 signed consent"
        MATERIAL = "material", "材料 material"
        RESULT = "result", "结果 result"
        DELIVERY = "delivery", "送达回执 delivery receipt"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    photo = models.OneToOneField("photos.Photo", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    label = models.CharField(max_length=100, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.label}"


class CaseRating(models.Model):
    """The resident's satisfaction (回访) with a closed case: 1-5 and a comment."""

    class Via(models.TextChoices):
        APP = "app", "居民端 resident app"
        VISIT = "visit", "走访 recorded on a visit"

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.score}"
