"""Log-in, token rotation, log-out, push-token registration and position reports for phones;
the board's log-in; B posts (grid assignments) and the duty roster, which the admin changes
through these actions.

Access tokens are short-lived JWTs carrying the session id (`sid`); each request checks that the
session is live, so log-out and refresh-token reuse take effect at once. Refresh tokens are
opaque, single-use, stored as digests; presenting a used one revokes the whole session.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.core.errors import ApiError
from backend.core.geo import Fix
from backend.core.stream import close_session_sockets, redact_grid_events
from backend.territory.selectors import grids_for

from .lockout import authenticate_guarded
from .models import (
    DutyShift,
    GridAssignment,
    MobileSession,
    PushToken,
    RefreshToken,
    Role,
    TOTPKey,
    User,
    WebsocketTicket,
    WorkerPosition,
)
from .selectors import scope_for

JWT_ALGORITHM = "HS256"
TICKET_LIFETIME = timedelta(seconds=30)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _issue(session: MobileSession) -> TokenPair:
    now = timezone.now()
    lifetime = settings.ACCESS_TOKEN_LIFETIME
    access = jwt.encode(
        {
            "sub": str(session.user_id),
            "sid": str(session.id),
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        },
        settings.JWT_SIGNING_KEY,
        algorithm=JWT_ALGORITHM,
    )
    refresh = secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        session=session,
        digest=_sha256(refresh),
        expires_at=now + settings.REFRESH_TOKEN_LIFETIME,
    )
    return TokenPair(access, refresh, int(lifetime.total_seconds()))


def do_login(*, request: HttpRequest, phone: str, password: str, client: str) -> TokenPair:
    """Check the password under the lock-out (5 failures lock for 15 minutes)."""
    user = authenticate_guarded(request=request, phone=phone, password=password)
    with transaction.atomic():
        session = MobileSession.objects.create(user=user, client=client[:200])
        return _issue(session)


def do_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate a refresh token. A used one revokes its session: the revocation must commit,
    so the refusal is raised after the transaction, not inside it."""
    with transaction.atomic():
        token = (
            RefreshToken.objects.select_for_update()
            .select_related("session__user")
            .filter(digest=_sha256(refresh_token))
            .first()
        )
        if token is None or token.expires_at <= timezone.now():
            raise ApiError("token_invalid", status=401)
        session = token.session
        if session.revoked_at is not None or not session.user.is_active:
            raise ApiError("token_revoked", status=401)
        if token.used_at is not None:
            session.revoked_at = timezone.now()
            session.revoke_reason = "refresh_reused"
            session.save(update_fields=["revoked_at", "revoke_reason"])
            transaction.on_commit(lambda: close_session_sockets(session.pk), robust=True)
        else:
            token.used_at = timezone.now()
            token.save(update_fields=["used_at"])
            return _issue(session)
    raise ApiError("refresh_reused", status=401)


def do_logout(*, session: MobileSession) -> None:
    """Revoke the session: its tokens stop working and its open sockets close."""
    with transaction.atomic():
        MobileSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoke_reason="logout"
        )
        transaction.on_commit(lambda: close_session_sockets(session.pk), robust=True)


def do_issue_ticket(*, session: MobileSession) -> tuple[str, int]:
    """A single-use websocket ticket, valid for 30 seconds."""
    ticket = secrets.token_urlsafe(32)
    WebsocketTicket.objects.create(
        session=session, digest=_sha256(ticket), expires_at=timezone.now() + TICKET_LIFETIME
    )
    return ticket, int(TICKET_LIFETIME.total_seconds())


def do_redeem_ticket(*, ticket: str) -> MobileSession | None:
    """The live session a ticket was issued to, once; None for anything else. Two statements
    (every phone redeems one after a mass reconnect): the conditional UPDATE takes the ticket
    (of two redeeming at once, one updates the row and the other finds it used), then the
    session and its user are read."""
    now = timezone.now()
    digest = _sha256(ticket)
    taken = WebsocketTicket.objects.filter(
        digest=digest, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not taken:
        return None
    row = WebsocketTicket.objects.select_related("session__user").get(digest=digest)
    session = row.session
    if session.revoked_at is not None or not session.user.is_active:
        return None
    return session


def session_for_access_token(token: str) -> MobileSession:
    """The live session behind an access token, with its user; refuses anything else (401)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.JWT_SIGNING_KEY,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sid", "sub"]},
        )
        sid = uuid.UUID(claims["sid"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ApiError("token_invalid", status=401) from exc
    session = MobileSession.objects.select_related("user").filter(pk=sid).first()
    if session is None or str(session.user_id) != str(claims["sub"]):
        raise ApiError("token_invalid", status=401)
    if session.revoked_at is not None or not session.user.is_active:
        raise ApiError("token_revoked", status=401)
    return session


def do_register_push_token(*, user: User, token: str, platform: str, provider: str) -> PushToken:
    """Idempotent for its holder. A token another user holds moves only once that user has no
    live session left (logged out, or deactivated: the phone changed hands); otherwise 409 —
    taking it would silence their alerts and send their pushes to the taker's phone."""
    digest = _sha256(token)
    held = PushToken.objects.filter(token_digest=digest).exclude(user=user).first()
    if held is not None and _signed_in(held.user_id):
        raise ApiError("push_token_taken", status=409)
    push_token, _ = PushToken.objects.update_or_create(
        token_digest=digest,
        defaults={
            "user": user,
            "token": token,
            "platform": platform,
            "provider": provider,
            "last_seen_at": timezone.now(),
        },
    )
    return push_token


def _signed_in(user_id: int) -> bool:
    return MobileSession.objects.filter(
        user_id=user_id,
        user__is_active=True,
        revoked_at__isnull=True,
        created_at__gt=timezone.now() - settings.REFRESH_TOKEN_LIFETIME,
    ).exists()


# -- the supervisors' board: password, then TOTP -------------------------------------------

BOARD_ROLES = (Role.SUPERVISOR, Role.DISTRICT_ADMIN)
BOARD_CLIENT = "board"  # MobileSession.client of a board log-in: the row its tickets hang on
TOTP_DEVICE_NAME = "board"
# The published TOTP key of the demo supervisor and district administrator (base32
# M5ZGSZDMNFXGKLLEMVWW6LLUN52HAIJB): `board_totp --code` prints codes only for devices holding
# it, so it never weakens a real account.
DEMO_TOTP_KEY_HEX = b"gridline-demo-totp!!".hex()


def check_board_password(*, request: HttpRequest, phone: str, password: str) -> User:
    """The first factor, under the same lock-out as the phones' log-in. Staff (the Django
    admin's users) log in here too: the admin has no log-in form of its own."""
    user = authenticate_guarded(request=request, phone=phone, password=password)
    if user.role not in BOARD_ROLES and not user.is_staff:
        raise ApiError("board_role_required", status=403)
    return user


def totp_device(user: User) -> TOTPKey | None:
    return TOTPKey.objects.filter(user=user, confirmed=True).order_by("pk").first()


def check_second_factor(*, user: User, token: str) -> TOTPKey:
    """The TOTP code of the user's confirmed device. django-otp throttles failures
    (1, 2, 4 ... seconds between attempts) and refuses a code already used."""
    device = totp_device(user)
    if device is None:
        raise ApiError("otp_not_enrolled", status=403)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise ApiError("otp_throttled", status=429)
    if not device.verify_token(token.strip()):
        raise ApiError("otp_invalid", status=401)
    return device


STEP_UP_HEADER = "X-OTP"


def check_step_up(*, user: User, code: str | None) -> None:
    """Sensitive API operations (registering a device, which mints its secret; exports of
    people's data) need a fresh TOTP code from a supervisor or district administrator, sent
    in the X-OTP header beside the bearer token: a stolen phone token alone does not do them.
    The code is verified like the board's (replay refused, failures throttled)."""
    if user.role not in BOARD_ROLES:
        return
    if not code:
        raise ApiError("otp_required", status=401)
    check_second_factor(user=user, token=code)


def do_enrol_totp(*, user: User, key_hex: str | None = None) -> TOTPKey:
    """A new confirmed TOTP device for `user`, replacing any other (an administrator's act:
    give the user the `config_url` as a QR code or the base32 key, once)."""
    if key_hex == DEMO_TOTP_KEY_HEX and settings.PRODUCTION:
        # The demo key is published in the README: never a real account's second factor.
        raise ApiError("permission_denied", status=403)
    with transaction.atomic():
        TOTPKey.objects.filter(user=user).delete()
        device = TOTPKey(user=user, name=TOTP_DEVICE_NAME, confirmed=True)
        if key_hex is not None:
            device.key = key_hex
        device.save()
    return device


def do_start_board_session(*, user: User, client: str = "") -> MobileSession:
    """The session row behind a board log-in: websocket tickets are issued against it, and
    revoking it (log-out) closes the board's socket, as for phones."""
    return MobileSession.objects.create(user=user, client=f"{BOARD_CLIENT} {client}"[:200])


def live_board_session(session_id: object, user: User) -> MobileSession | None:
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        return None
    return MobileSession.objects.filter(
        pk=sid, user=user, user__is_active=True, revoked_at__isnull=True
    ).first()


# -- B posts and the duty roster --------------------------------------------------------------


def do_save_grid_assignment(*, assignment: GridAssignment) -> GridAssignment:
    """Give a worker a B post in a grid (or move one). Their visit list changes with it:
    backend.visits tells their phone in this same transaction (post_save)."""
    with transaction.atomic():
        assignment.save()
    return assignment


def do_remove_grid_assignment(*, assignment: GridAssignment) -> None:
    """Take a B post away; backend.visits tells the worker's phone in this transaction.
    Access ends with it: the worker's stored events about the grid are redacted unless
    another post still shows them the grid."""
    with transaction.atomic():
        assignment.delete()
        user = User.objects.get(pk=assignment.user_id)
        if not grids_for(scope_for(user)).filter(pk=assignment.grid_id).exists():
            redact_grid_events(user_id=user.pk, grid_id=assignment.grid_id)


def do_save_duty_shift(*, shift: DutyShift) -> DutyShift:
    """Add or change one entry of the roster (who is on duty when, for a community or a grid;
    alert routing reads it at the moment of a press)."""
    with transaction.atomic():
        shift.save()
    return shift


def do_remove_duty_shift(*, shift: DutyShift) -> None:
    with transaction.atomic():
        shift.delete()


# -- where a worker is ---------------------------------------------------------------------


def do_report_position(*, user: User, fix: Fix) -> WorkerPosition:
    """A worker's phone reports where it is (HTTP or the socket); residents have no position."""
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    position, _ = WorkerPosition.objects.update_or_create(
        user=user,
        defaults={"location": fix.point(), "accuracy_m": fix.accuracy_m, "at": timezone.now()},
    )
    return position


def prune_positions() -> int:
    """PIPL retention: a worker's last position is kept POSITION_RETENTION_DAYS (30), then
    deleted (the dispatcher's housekeeping). Routing uses positions of the last minutes only."""
    cutoff = timezone.now() - timedelta(days=settings.POSITION_RETENTION_DAYS)
    deleted, _ = WorkerPosition.objects.filter(at__lt=cutoff).delete()
    return deleted
