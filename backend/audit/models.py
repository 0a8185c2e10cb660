"""The audit trail (MLPS 2.0 level 3): reads of people's data (a list page is one row naming
its ids), writes, log-ins and failed log-ins, exports and admin changes — who, what, when,
from where (the server's view of the address) and with what result.

Rows are append-only: database triggers refuse UPDATE, and DELETE of a row younger than the
retention floor (180 days), for every role, the application's included (migration 0002).
Each row is sealed after it is written: `AuditSeal` holds the SHA-256 of the row and of the
seal before it, so that a changed, removed or inserted row breaks the chain
(`manage.py audit_verify`). Sealing is done by the dispatcher's housekeeping, not the request,
so a request pays one INSERT.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW_RESIDENT = "view_resident", "查看居民详情 view resident"
        LIST_RESIDENTS = "list_residents", "查看居民列表 list residents"
        VIEW_HOUSEHOLD = "view_household", "查看住户详情 view household"
        LIST_HOUSEHOLDS = "list_households", "查看住户列表 list households"
        VIEW_VISIT = "view_visit", "查看走访记录 view visit"
        LIST_VISITS = "list_visits", "查看走访列表 list visits"
        VISITS_TODAY = "visits_today", "查看今日走访 today's visit route"
        VIEW_ALERT = "view_alert", "查看告警详情 view alert"
        LIST_ALERTS = "list_alerts", "查看告警列表 list alerts"
        VIEW_CASE = "view_case", "查看工单详情 view case"
        LIST_CASES = "list_cases", "查看工单列表 list cases"
        OPEN311_READ = "open311_read", "Open311 读取 Open311 read"
        LOGIN = "login", "登录 log-in"
        LOGIN_FAILED = "login_failed", "登录失败 failed log-in"
        WRITE = "write", "写操作 write"
        ADMIN_CHANGE = "admin_change", "后台修改 admin change"
        EXPORT = "export", "导出 export"
        VIEW_VOTER_ROLL = "view_voter_roll", "查看投票名单 view who voted in a poll"
        VIEW_VOLUNTEER_MATCH = (
            "view_volunteer_match",
            "查看志愿服务匹配 a task's match (the person helped, the volunteers offered)",
        )
        LIST_VOLUNTEERS = "list_volunteers", "查看志愿者名册 list the volunteer registry"
        LIST_VOLUNTEER_TASKS = "list_volunteer_tasks", "查看志愿服务任务列表 list volunteer tasks"

    class Result(models.TextChoices):
        OK = "ok", "成功 ok"
        REFUSED = "refused", "拒绝 refused"
        FAILED = "failed", "失败 failed"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    actor_label = models.CharField(
        max_length=200, blank=True, db_default="", help_text="e.g. the phone tried"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_ids = models.JSONField(
        default=list, db_default=[], blank=True, help_text="a list page's ids"
    )
    detail = models.CharField(
        max_length=300, blank=True, db_default="", help_text="method and path, status"
    )
    result = models.CharField(
        max_length=10, choices=Result.choices, default=Result.OK, db_default=Result.OK
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    client = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["target_type", "target_id", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_id} {self.action} {self.target_id}"

    def canonical(self) -> bytes:
        """The row's content as hashed into the chain (every column but none derived)."""
        return json.dumps(
            [
                self.pk,
                self.actor_id,
                self.actor_label,
                self.action,
                self.target_type,
                self.target_id,
                self.target_ids,
                self.detail,
                self.result,
                self.at.isoformat(),
                self.client,
                self.ip,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


class AuditSeal(models.Model):
    """The hash chain over the audit rows, in id order: digest = SHA-256(previous digest +
    the row's canonical content)."""

    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, primary_key=True)
    digest = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event_id}: {self.digest[:12]}"

    @staticmethod
    def chain(previous: str, event: AuditEvent) -> str:
        return hashlib.sha256(previous.encode() + event.canonical()).hexdigest()


class AuditAnchor(models.Model):
    """Where the chain resumes after an archive: the last archived row's id and digest (and
    the file that holds the archived rows)."""

    through_event_id = models.BigIntegerField(unique=True)
    digest = models.CharField(max_length=64)
    file = models.CharField(max_length=300)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.through_event_id}: {self.file}"
