"""Audit trail of reads of residents' personal data (who, whom, when, from which client)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW_RESIDENT = "view_resident", "查看居民详情 view resident"
        VIEW_VOTER_ROLL = "view_voter_roll", "查看投票名单 view who voted in a poll"
        VIEW_VOLUNTEER_MATCH = "view_volunteer_match", "志愿者查看服务对象 a volunteer's task"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    action = models.CharField(max_length=40, choices=Action.choices)
    target_type = models.CharField(max_length=40)
    target_id = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now, db_index=True)
    client = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["target_type", "target_id", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_id} {self.action} {self.target_id}"
