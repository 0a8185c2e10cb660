"""Staff, residents' accounts, AB posts (AB岗), duty rosters and mobile sessions.

Every worker holds an A post — a business line for which they are the specialist across the
community — and a B post — everything in their own grid(s). One post, many duties (一岗多责).
"""

from __future__ import annotations

import time
import uuid
from base64 import b32encode
from binascii import unhexlify
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.gis.db.models import PointField
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from backend.core.fields import EncryptedTextField
from backend.people.models import Resident
from backend.territory.models import Community, District, Grid


class Role(models.TextChoices):
    WORKER = "worker", "网格员 grid worker"
    SUPERVISOR = "supervisor", "社区督导 community supervisor"
    OFFICER = "officer", "后台专员 back-office officer"
    DISTRICT_ADMIN = "district_admin", "区管理员 district administrator"
    RESIDENT = "resident", "居民 resident"


class BusinessLine(models.TextChoices):
    CIVIL_AFFAIRS = "civil_affairs", "民政 civil affairs"
    SOCIAL_SECURITY = "social_security", "社保 social security"
    ELDERLY_CARE = "elderly_care", "养老 elderly care"
    HEALTH = "health", "卫生健康 health"
    DISABILITY = "disability", "残联 disability"
    HOUSING = "housing", "住房 housing"
    EMPLOYMENT = "employment", "就业 employment"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(phone=phone, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.DISTRICT_ADMIN)
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(phone, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]
    """Anyone who logs in, by mainland mobile number."""

    phone = models.CharField(max_length=11, unique=True)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices)
    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    resident = models.OneToOneField(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="account"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}"


class GridAssignment(models.Model):
    """B post: the grids a worker is responsible for."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="b_posts")
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="b_posts")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "grid"], name="unique_b_post")]

    def __str__(self) -> str:
        return f"B {self.user_id} → {self.grid_id}"


class BusinessLineAssignment(models.Model):
    """A post: a business line a worker or officer handles across their community."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="a_posts")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="a_posts")
    line = models.CharField(max_length=20, choices=BusinessLine.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "community", "line"], name="unique_a_post")
        ]

    def __str__(self) -> str:
        return f"A {self.user_id} {self.line}"


class DutyShift(models.Model):
    """One entry of the duty roster: who is on duty when, for a community or one grid."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shifts")
    community = models.ForeignKey(
        Community,
        on_delete=models.CASCADE,
        related_name="shifts",
        null=True,
        blank=True,
        help_text="empty for a district-level duty (the district duty officer)",
    )
    grid = models.ForeignKey(
        Grid, on_delete=models.CASCADE, related_name="shifts", null=True, blank=True
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["community", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class MobileSession(models.Model):
    """One log-in on one phone: the family of its refresh tokens and the access tokens' `sid`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mobile_sessions")
    client = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=30, blank=True)

    def __str__(self) -> str:
        return str(self.id)


class RefreshToken(models.Model):
    """A single-use refresh token, stored as a SHA-256 digest; reuse revokes the family."""

    session = models.ForeignKey(MobileSession, on_delete=models.CASCADE, related_name="refresh")
    digest = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.digest[:8]


class WebsocketTicket(models.Model):
    """A one-time, 30-second ticket to open a websocket (no long-lived token in a URL)."""

    session = models.ForeignKey(MobileSession, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.digest[:8]


class PushToken(models.Model):
    """A phone's push registration: FCM (Google services) or JPush (the phone makers' own
    channels, for mainland phones without Google services)."""

    class Provider(models.TextChoices):
        FCM = "fcm", "Firebase Cloud Messaging"
        JPUSH = "jpush", "JPush (Huawei, Honor, Xiaomi, OPPO, vivo)"

    class Platform(models.TextChoices):
        ANDROID = "android", "Android"
        IOS = "ios", "iOS"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_tokens")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.FCM)
    platform = models.CharField(max_length=20, choices=Platform.choices)
    token = models.CharField(max_length=4096)
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.provider}:{self.token[:12]}…"


class WorkerPosition(models.Model):
    """A worker's last reported position while on duty (geography: distances in metres)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")
    location = PointField(geography=True, srid=4326, spatial_index=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "alerts_workerposition"  # kept from when alerts owned it (no table rename)

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.at:%H:%M:%S}"


def _new_totp_key() -> str:
    return random_hex(20)


class TOTPKey(TimestampMixin, ThrottlingMixin, Device):
    """The board's and the admin's second factor (RFC 6238 TOTP) with its key encrypted at
    rest (Fernet, like ID numbers): django-otp's own TOTPDevice keeps the key in clear and its
    admin shows it. The key is shown once, at enrolment (`manage.py board_totp`); no page or
    API serves it afterwards. Verification is django-otp's: drift, tolerance, replay
    (`last_t`) and throttling (1, 2, 4 ... seconds after failures)."""

    key = EncryptedTextField(default=_new_totp_key)
    step: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=30)
    t0: models.BigIntegerField[int, int] = models.BigIntegerField(default=0)
    digits: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(default=6)
    tolerance: models.PositiveSmallIntegerField[int, int] = models.PositiveSmallIntegerField(
        default=1
    )
    drift: models.SmallIntegerField[int, int] = models.SmallIntegerField(default=0)
    last_t: models.BigIntegerField[int, int] = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "TOTP key"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def verify_token(self, token: Any) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = bool(totp.verify(code, self.tolerance, self.last_t + 1))
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self) -> int:
        return 1

    @property
    def config_url(self) -> str:
        """The otpauth:// URI for an authenticator app (shown once, at enrolment)."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "gridline")).replace(":", "")
        label = quote(f"{issuer}:{self.user.get_username()}")
        params = urlencode(
            {
                "secret": b32encode(self.bin_key).decode(),
                "digits": self.digits,
                "period": self.step,
                "issuer": issuer,
            }
        )
        return f"otpauth://totp/{label}?{params}"


class LoginGuard(models.Model):
    """Failed log-ins per account, counted atomically before the password is checked (one
    upsert: `backend.accounts.lockout`). django-axes checked, then recorded, without a lock:
    60 parallel guesses all passed its check."""

    key = models.CharField(max_length=200, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
