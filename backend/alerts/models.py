"""One-key emergency help (一键通): devices, alerts, who was told, and what happened.

An elderly resident presses a button; the alert goes to the grid's manager on duty, then to the
nearest workers, the community's duty supervisor and the district duty officer, each tier on a
durable clock, until someone accepts.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone

from backend.core.fields import EncryptedTextField
from backend.people.models import Resident
from backend.territory.models import Community, Grid, Household


class AlertKind(models.TextChoices):
    EMERGENCY = "emergency", "紧急求助 emergency (red)"
    HELP = "help", "一般求助 help (green)"
    FIRE = "fire", "火警 fire / smoke (call 119)"
    DEVICE_OFFLINE = "device_offline", "设备离线 device offline"
    LOW_BATTERY = "low_battery", "电量低 low battery"
    TAMPER = "tamper", "防拆 tamper"
    POWER_LOSS = "power_loss", "交流断电 AC power loss"
    COMM_TROUBLE = "comm_trouble", "通信故障 communication trouble"


TECHNICAL_KINDS = (
    AlertKind.DEVICE_OFFLINE,
    AlertKind.LOW_BATTERY,
    AlertKind.TAMPER,
    AlertKind.POWER_LOSS,
    AlertKind.COMM_TROUBLE,
)
# Kinds a person raises (a press, a sensor): a repeat while one is open joins it.
PERSON_KINDS = (AlertKind.EMERGENCY, AlertKind.HELP, AlertKind.FIRE)
# Life-threatening kinds: first on the board while nobody has accepted them.
URGENT_KINDS = (AlertKind.EMERGENCY, AlertKind.FIRE)


class EscalationPolicy(models.Model):
    """Per community and kind: the seconds each tier has before the next is called.

    Tiers: 1 the grid's B-post manager(s) on duty; 2 the nearest on-duty workers of the
    community; 3 the community's duty supervisor; 4 the district duty officer. A timeout of
    0 leaves the tier out. A community without a policy uses the district default (community
    empty), and without that the built-in defaults.
    """

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    tier_timeouts = models.JSONField(default=list, help_text="seconds per tier, e.g. [60,60,60,60]")
    nearest_workers = models.PositiveSmallIntegerField(default=3)
    position_max_age_s = models.PositiveIntegerField(default=600)
    heartbeat_misses = models.PositiveSmallIntegerField(default=3)
    low_battery_percent = models.PositiveSmallIntegerField(default=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["community", "kind"], name="unique_policy"),
        ]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return f"{self.community or 'district'} {self.kind} {self.tier_timeouts}"


class Device(models.Model):
    """A button device (pendant, fixed unit, or the resident app) with its own secret."""

    class Kind(models.TextChoices):
        PENDANT = "pendant", "挂件 pendant"
        FIXED = "fixed", "固定报警器 fixed unit"
        APP = "app", "居民 App resident app"
        PANEL = "panel", "报警主机 alarm panel (SIA DC-09)"

    device_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="devices")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="devices")
    secret = EncryptedTextField()
    heartbeat_interval_s = models.PositiveIntegerField(default=3600)
    last_heard_at = models.DateTimeField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.device_id


class AlarmAccount(models.Model):
    """A SIA DC-09 account (an alarm panel, a telecare unit, a smoke detector's communicator)
    and the registered device it is. The AES key (16, 24 or 32 characters, as the panel is
    programmed) is stored encrypted; empty for a panel that sends in the clear. A receiver or
    line number, when set, must match the message's."""

    account = models.CharField(max_length=16, unique=True, help_text="hex, 3-16 characters")
    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="alarm_account")
    key = EncryptedTextField(blank=True, default="")
    receiver = models.CharField(max_length=7, blank=True, help_text="e.g. R1; empty: any")
    line = models.CharField(max_length=7, blank=True, help_text="e.g. L1; empty: any")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"DC-09 {self.account}"


class DeviceNonce(models.Model):
    """Nonces seen in the last window; a reused one is a replay."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "nonce"], name="unique_device_nonce")
        ]

    def __str__(self) -> str:
        return self.nonce


class Alert(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "待接警 open"
        ACCEPTED = "accepted", "已接警 accepted"
        ARRIVED = "arrived", "已到达 arrived"
        RESOLVED = "resolved", "已处置 resolved"
        CANCELLED = "cancelled", "已取消 cancelled"
        CLOSED = "closed", "已恢复 closed (technical alarm cleared)"

    class Source(models.TextChoices):
        DEVICE = "device", "设备 device"
        RESIDENT_APP = "resident_app", "居民 App"
        WORKER = "worker", "网格员代报 worker for resident"
        SYSTEM = "system", "系统 system"

    class Disposition(models.TextChoices):
        FALSE_PRESS = "false_press", "误按 false press"
        ASSISTED = "assisted_on_site", "现场协助 assisted on site"
        AMBULANCE = "ambulance_called", "已呼叫120 ambulance 120 called"
        HOSPITAL = "taken_to_hospital", "已送医 taken to hospital"
        NO_ANSWER = "no_answer_forced_entry", "无人应门/破门 no answer, forced entry"
        OTHER = "other", "其他 other"

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    device = models.ForeignKey(Device, on_delete=models.PROTECT, null=True, blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="alerts")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="alerts")
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="alerts")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="alerts")
    location = models.PointField(srid=4326, null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    battery = models.PositiveSmallIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    tier = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    disposition = models.CharField(max_length=30, choices=Disposition.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    # Presses (or repeated technical alarms) folded into this alert, the first included.
    presses = models.PositiveIntegerField(default=1, db_default=1)

    class Meta:
        indexes = [
            models.Index(fields=["community", "state"]),
            models.Index(fields=["resident", "kind", "-created_at"], name="alert_resident_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.state}"

    @property
    def is_technical(self) -> bool:
        return self.kind in TECHNICAL_KINDS


class AlertRecipient(models.Model):
    """Someone the alert was sent to, at which tier, and whether they have seen it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tier = models.PositiveSmallIntegerField()
    notified_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="unique_alert_recipient")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.user_id} (tier {self.tier})"


class AlertStep(models.Model):
    """The alert's timeline: who did what, when, and where."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    location = models.PointField(srid=4326, null=True, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind}"
