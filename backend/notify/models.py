"""The outbox (one row per attempt to reach someone by push, SMS or voice), the delivery ladder
policy per community and event kind, the provider callbacks already taken in, and the SMS
replies people sent back."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.core.fields import EncryptedTextField
from backend.core.models import StreamEvent
from backend.territory.models import Community


class Channel(models.TextChoices):
    PUSH = "push", "推送 push"
    SMS = "sms", "短信 SMS"
    VOICE = "voice", "语音电话 voice call"


class OutboxMessage(models.Model):
    """One message to one person: written in the transaction of the event that needs it, sent
    by whichever dispatcher claims it (SKIP LOCKED), retried with backoff, dead after
    OUTBOX_MAX_ATTEMPTS. `public_id` is the idempotency key we hand the provider (OutId,
    sendno): a retry after a crash carries the same one."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发送 pending"
        SENDING = "sending", "发送中 sending"
        SENT = "sent", "已发送 sent"
        DEAD = "dead", "失败 dead letter"
        CANCELLED = "cancelled", "已停止 stopped (acknowledged)"

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # What the message is about ("alert:42"); listeners of the prefix write the timeline.
    subject = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event = models.ForeignKey(
        StreamEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rung = models.PositiveSmallIntegerField(default=0)
    # A phone number for people without an account (contacts, residents); else the user's.
    to = EncryptedTextField(blank=True, default="")
    # phone_digest(to): what an SMS reply from that number is matched by (see replies.py).
    to_digest = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )
    template = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    not_before = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    # The last word from the provider's callbacks: delivered, failed, answered, no_answer ...
    outcome = models.CharField(max_length=20, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["not_before"],
                name="outbox_due",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["provider", "provider_message_id"], name="outbox_message_id"),
            models.Index(
                fields=["to_digest", "sent_at"],
                name="outbox_to_digest",
                condition=~models.Q(to_digest=""),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="unique_outbox_provider_message",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.subject} rung {self.rung} {self.status}"


class LadderPolicy(models.Model):
    """Per community and event kind: after how many seconds each rung past the push goes out
    unless the recipient has acknowledged. A community without one uses the district default
    (community empty), and without that the built-in defaults (backend.notify.ladder)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    kind = models.CharField(max_length=40, help_text="emergency, help, device_offline, ...")
    sms_after_s = models.PositiveIntegerField(null=True, blank=True, help_text="empty: no SMS")
    voice_after_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="empty: no voice call"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["community", "kind"], name="unique_ladder_policy"),
        ]
        verbose_name_plural = "ladder policies"

    def __str__(self) -> str:
        where = self.community or "district"
        return f"{where} {self.kind}: sms {self.sms_after_s} voice {self.voice_after_s}"


class ProviderCallback(models.Model):
    """A callback already taken in (a receipt, a call status, a keypress): a duplicate is
    answered OK and changes nothing."""

    provider = models.CharField(max_length=20)
    key = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="unique_provider_callback")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.key}"


class SmsReply(models.Model):
    """A text someone sent back to one of our template SMS (Aliyun SmsUp, Tencent's reply
    callback), kept whether or not anything could be made of it. The number and the text are
    personal data: encrypted, the number found by its digest. `message` is the SMS it answers
    (the latest sent to that number whose subject hears replies); `outcome` what its listener
    made of it, or `unmatched`."""

    provider = models.CharField(max_length=20)
    phone = EncryptedTextField()
    phone_digest = models.CharField(max_length=64, db_index=True)
    text = EncryptedTextField(blank=True, default="")
    sign_name = models.CharField(max_length=40, blank=True)
    extend = models.CharField(max_length=20, blank=True, help_text="dest_code / extend")
    replied_at = models.DateTimeField(null=True, blank=True, help_text="the provider's time")
    received_at = models.DateTimeField(default=timezone.now)
    message = models.ForeignKey(
        OutboxMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name_plural = "SMS replies"

    def __str__(self) -> str:
        return f"{self.provider} reply {self.pk} {self.outcome}"
