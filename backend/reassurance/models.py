"""Reassurance calls (关爱电话): a care rule gives some residents (by default those aged 80+ who
live alone) a weekly automated voice call; pressing 1 says "I am fine". Two missed calls in a
row put a visit on the grid workers' list for the same day.

`ReassuranceRule` says who is called and when, per community (or the district default);
`ReassuranceCall` is one resident's call of one week (at most one: the weekly job may run
twice); `ReassuranceEntry` is the resident's reassurance timeline (called, fine, missed, visit
raised), what the assessment and a resident's record read.
"""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from backend.notify.models import OutboxMessage
from backend.people.models import CareTag, Resident
from backend.territory.models import Community, Grid
from backend.visits.models import VisitTask


def default_tags() -> list[str]:
    return [str(CareTag.LIVING_ALONE)]


class ReassuranceRule(models.Model):
    """Who gets the weekly call, and on which day at what time (local).

    A resident is called when they are at least `min_age` (empty: any age) and carry every tag
    in `tags` (empty: no tag needed), and have a phone (their own or the household's fixed
    line). A community with a rule of its own uses it; otherwise the district default (no
    community); otherwise the built-in one: 80+ and living alone, Monday 10:00. An inactive rule
    calls nobody in its communities."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "周一 Monday"
        TUESDAY = 1, "周二 Tuesday"
        WEDNESDAY = 2, "周三 Wednesday"
        THURSDAY = 3, "周四 Thursday"
        FRIDAY = 4, "周五 Friday"
        SATURDAY = 5, "周六 Saturday"
        SUNDAY = 6, "周日 Sunday"

    community = models.OneToOneField(
        Community,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reassurance_rule",
        help_text="empty: the district default for communities without a rule of their own",
    )
    min_age = models.PositiveSmallIntegerField(
        null=True, blank=True, default=80, help_text="empty: any age"
    )
    tags = models.JSONField(
        default=default_tags, blank=True, help_text="care tags a resident must all carry"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    call_at = models.TimeField(default=time(10, 0), help_text="local time of the call")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        where = self.community or "district"
        return f"{where}: {self.min_age or 'any'}+ {','.join(self.tags) or '-'}"

    def clean(self) -> None:
        # One district default (the OneToOne already makes one rule per community).
        if self.community_id is None:
            others = ReassuranceRule.objects.filter(community__isnull=True).exclude(pk=self.pk)
            if others.exists():
                raise ValidationError({"community": "a district default exists already"})
        if self.min_age is not None and self.min_age > 130:
            raise ValidationError({"min_age": "0 to 130"})
        unknown = set(self.tags or []) - set(CareTag.values)
        if not isinstance(self.tags, list) or unknown:
            raise ValidationError({"tags": f"unknown care tags: {sorted(unknown)}"})


class ReassuranceCall(models.Model):
    """One resident's call of one week (`week` is that week's Monday)."""

    class State(models.TextChoices):
        PENDING = "pending", "待结果 waiting for the answer"
        FINE = "fine", "平安 pressed 1: I am fine"
        MISSED = "missed", "未接通 missed (no answer, no keypress)"

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="the Monday of the call's week")
    planned_at = models.DateTimeField()
    message = models.ForeignKey(
        OutboxMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Why a miss was a miss: no_answer, no_keypress, failed, dead, skipped; or the digit.
    outcome = models.CharField(max_length=20, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    visit_task = models.ForeignKey(
        VisitTask,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="the visit this miss raised (the second in a row)",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resident", "week"], name="one_reassurance_per_week")
        ]
        indexes = [
            models.Index(fields=["community", "state"], name="reassurance_community_state"),
        ]

    def __str__(self) -> str:
        return f"resident {self.resident_id} week {self.week}: {self.state}"


class ReassuranceEntry(models.Model):
    """One line of a resident's reassurance timeline."""

    class Kind(models.TextChoices):
        CALLED = "called", "已拨出 called"
        FINE = "fine", "按1报平安 pressed 1: fine"
        KEYPRESS = "keypress", "其他按键 another key"
        MISSED = "missed", "未接通 missed"
        VISIT_RAISED = "visit_raised", "连续两次未接通，已安排上门 two missed: visit raised"

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(ReassuranceCall, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["resident", "at"])]
        verbose_name_plural = "reassurance entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"
