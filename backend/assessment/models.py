"""Assessment (考核): schemes, periods, scorecards with their adjustments and appeals, every
step of the process, and the residents' follow-up ratings (回访).

职能岗位考核和网格岗位考核相结合、季度考核和年度考核相结合: a scheme scores grid workers (B post),
A-post officers or communities from what the work recorded; a period (a quarter, or the year)
runs draft → self-review → scoring → publication → appeals → frozen. Once a scheme is used by a
period it is frozen, and an edit makes a new version.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from backend.people.models import Resident
from backend.territory.models import Community, District, Household


class AppliesTo(models.TextChoices):
    WORKER = "worker", "网格员（B岗）grid workers"
    OFFICER = "officer", "职能岗（A岗）A-post officers"
    COMMUNITY = "community", "社区 communities"


class Formula(models.TextChoices):
    LINEAR = "linear", "线性（下限→目标）linear between floor and target"
    THRESHOLD = "threshold", "达标制（达到目标得满分）full marks at the target, else 0"


class Scheme(models.Model):
    """One version of a district's assessment scheme. `grade_bands` are the lowest totals of
    优秀 / 良好 / 合格 (below the last: 不合格)."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    applies_to = models.CharField(max_length=10, choices=AppliesTo.choices)
    grade_bands = models.JSONField(default=dict, help_text='{"优秀": 90, "良好": 80, "合格": 60}')
    leader_weight = models.FloatField(
        default=0,
        db_default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="领导评价（定性）占总分的百分比, 0-100; 0: the scheme has no qualitative part",
    )
    visit_sample_rate = models.FloatField(
        default=0.1,
        db_default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="share of completed visits followed up (回访抽样), 0-1",
    )
    frozen = models.BooleanField(default=False, help_text="used by a period: edits make a copy")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["district", "name", "applies_to", "version"], name="unique_scheme_version"
            ),
            models.CheckConstraint(
                condition=Q(leader_weight__gte=0) & Q(leader_weight__lte=100),
                name="scheme_leader_weight_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(visit_sample_rate__gte=0) & Q(visit_sample_rate__lte=1),
                name="scheme_visit_sample_rate_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.applies_to})"


class IndicatorGroup(models.Model):
    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=100)
    weight = models.FloatField(help_text="share of the total, e.g. 40")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight})"


class Indicator(models.Model):
    """One indicator of a group: what it measures (`code`, see backend.assessment.indicators),
    how a value becomes points (`formula` between `floor` and `target`; a target below the
    floor means lower is better), and whether only the year counts it."""

    group = models.ForeignKey(IndicatorGroup, on_delete=models.CASCADE, related_name="indicators")
    code = models.CharField(max_length=40)
    weight = models.FloatField(default=1)
    formula = models.CharField(max_length=10, choices=Formula.choices, default=Formula.LINEAR)
    target = models.FloatField()
    floor = models.FloatField(default=0)
    year_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["group_id", "pk"]

    def __str__(self) -> str:
        return self.code


class PeriodState(models.TextChoices):
    DRAFT = "draft", "计算草稿 computed draft"
    SELF_REVIEW = "self_review", "个人自评 self-review"
    SCORING = "scoring", "督导评分 supervisor scoring"
    PUBLISHED = "published", "公示 published"
    FROZEN = "frozen", "已归档签发 frozen and signed off"


class Period(models.Model):
    """One assessment period of a scheme: a quarter (1-4) or the year (quarter 0)."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="periods")
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField(default=0, help_text="1-4, or 0 for the year")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=PeriodState.choices, default=PeriodState.DRAFT)
    computed_at = models.DateTimeField(null=True, blank=True)
    publish_until = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scheme", "year", "quarter"], name="unique_period"),
            models.CheckConstraint(condition=Q(quarter__lte=4), name="period_quarter_0_to_4"),
        ]

    def __str__(self) -> str:
        return f"{self.year}{f'Q{self.quarter}' if self.quarter else ''} {self.scheme}"

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.quarter}季度" if self.quarter else f"{self.year}年度"


class Scorecard(models.Model):
    """One subject's card in a period: a worker's (user) or a community's. `indicators` holds,
    per indicator code, its value, counts, points and exclusions as computed."""

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="scorecards")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    indicators = models.JSONField(default=dict)
    exclusions = models.JSONField(default=dict, help_text="reason -> count")
    base = models.FloatField(default=0)
    leader = models.FloatField(
        null=True, blank=True, help_text="the current leader's score (LeaderScore), 0-100"
    )
    adjustment = models.FloatField(default=0)
    total = models.FloatField(default=0)
    grade = models.CharField(max_length=4, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True, help_text="within the community")
    self_comment = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "user"], condition=Q(user__isnull=False), name="one_card_user"
            ),
            models.UniqueConstraint(
                fields=["period", "community"],
                condition=Q(user__isnull=True),
                name="one_card_community",
            ),
        ]
        indexes = [models.Index(fields=["period", "community", "-total"])]

    def __str__(self) -> str:
        return f"{self.period_id} {self.user_id or self.community_id} {self.total:.1f}"


class Adjustment(models.Model):
    """Manual points (加分 / 减分) by a supervisor, with a reason and an evidence photo."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="adjustments")
    points = models.FloatField()
    reason = models.CharField(max_length=300)
    photo = models.ForeignKey(
        "photos.Photo", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.points:+g} {self.reason[:30]}"


class LeaderScore(models.Model):
    """The leader's qualitative score (领导评价) of a card, 0-100 with a reason, by a supervisor
    of the card's community or a district administrator. One per card and period: a change is
    the next version (the earlier ones stay, each recorded as a process step)."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="leader_scores")
    version = models.PositiveIntegerField(default=1)
    score = models.FloatField()
    reason = models.CharField(max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scorecard_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "version"], name="one_leader_version"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="leader_score_0_to_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scorecard_id} v{self.version}: {self.score:g}"


class Appeal(models.Model):
    """An appeal (申诉) against a published card, decided by someone who did not score it."""

    class Decision(models.TextChoices):
        PENDING = "", "待处理 pending"
        UPHELD = "upheld", "维持 upheld"
        CHANGED = "changed", "调整 changed"

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="appeals")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    points = models.FloatField(default=0)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"appeal {self.scorecard_id} {self.decision or 'pending'}"


class ProcessStep(models.Model):
    """Every step of a period's process: who, when, what (the audit of the assessment)."""

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="steps")
    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.CASCADE, null=True, blank=True, related_name="steps"
    )
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.period_id} {self.kind}"


class FollowUp(models.Model):
    """A resident asked to rate a piece of work (回访): after a resolved alert, a closed case, a
    sampled visit, or in the yearly panel. Only the resident asked answers, once; they may
    decline. `workers` are the people the rating counts for, in `post`."""

    class Source(models.TextChoices):
        ALERT = "alert", "紧急求助 alert"
        CASE = "case", "办件 case"
        VISIT = "visit", "走访 visit"
        PANEL = "panel", "年度测评 yearly panel"

    class Channel(models.TextChoices):
        APP = "app", "居民端 resident app"
        SMS = "sms", "短信回复 SMS reply"
        VISIT = "visit", "下次走访 next visiting worker"

    class State(models.TextChoices):
        ASKED = "asked", "待评价 asked"
        RATED = "rated", "已评价 rated"
        DECLINED = "declined", "拒绝评价 declined"

    source = models.CharField(max_length=10, choices=Source.choices)
    source_ref = models.CharField(max_length=64)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="+")
    workers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    post = models.CharField(max_length=1, choices=[("A", "A岗"), ("B", "B岗")], blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code = models.CharField(max_length=6, help_text="quoted in an SMS reply")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ASKED)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    asked_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer_phone = models.CharField(max_length=20, blank=True)
    panel_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_ref", "resident"], name="one_follow_up_per_source"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=1) & Q(score__lte=5)),
                name="follow_up_score_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "state", "answered_at"]),
            models.Index(fields=["resident", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_ref} {self.state}"
