"""Push to phones: one small provider interface; FCM for phones with Google services, JPush
(the phone makers' own channels: Huawei, Honor, Xiaomi, OPPO, vivo) for the rest.

A provider sends one data message per token and says, token by token, whether it was accepted,
whether the token is dead (`prune_unregistered` deletes it) or whether a later try may succeed.
Trying later is the caller's durable clock's job; a provider only retries within one call.

Settings (all optional in development):
- PUSH_PROVIDERS: {name: dotted class path}; names match `PushToken.provider`. Default: "fcm" is
  `FCMProvider` when FCM credentials are configured (or in production, where missing credentials
  are an error), else `LogProvider`, which only logs.
- FCM_CREDENTIALS: service-account JSON as a path or a dict; else env FCM_CREDENTIALS_FILE.
- FCM_PROJECT_ID: defaults to the service account's project_id.
- PUSH_URGENT_TTL_SECONDS (120), PUSH_NORMAL_TTL_SECONDS (3600): how long FCM and APNs keep a
  message for an unreachable phone.
- FCM_HTTP_TIMEOUT_SECONDS (5): one HTTP request; FCM_SEND_DEADLINE_SECONDS (10): one `send`.
- JPUSH_APP_KEY, JPUSH_MASTER_SECRET, JPUSH_APNS_PRODUCTION, JPUSH_TIMEOUT_SECONDS (5), and the
  vendors' channel ids JPUSH_XIAOMI_CHANNEL_ID, JPUSH_OPPO_CHANNEL_ID (see JPushProvider). "jpush"
  is `JPushProvider` when the app key is set, else `LogProvider`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import firebase_admin
import google.auth.exceptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from firebase_admin import credentials as firebase_credentials
from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging

from backend.accounts.models import PushToken

logger = logging.getLogger(__name__)

URGENT_TTL_SECONDS = 120
NORMAL_TTL_SECONDS = 3600
FCM_HTTP_TIMEOUT_SECONDS = 5.0
FCM_SEND_DEADLINE_SECONDS = 10.0
MAX_TOKENS_PER_SEND = 500
# FCM refuses data payloads over 4096 bytes (keys and values); keep a margin for its own keys.
MAX_DATA_BYTES = 4000
RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
RESERVED_DATA_PREFIXES = ("google.", "gcm.")
# Shown by iOS when an urgent push carries no "title"/"body" of its own: an alert push must
# display something, and a silent (background) push is throttled and may never wake the app.
URGENT_FALLBACK_TITLE = "紧急提醒 Urgent"
URGENT_FALLBACK_BODY = "请立即打开应用查看。Open the app now."


@dataclass(frozen=True)
class PushResult:
    """What became of one token: accepted, dead (prune it), or failed (maybe try later)."""

    token: str
    ok: bool
    unregistered: bool = False
    error: str | None = None
    retryable: bool = False
    # The provider's id of the accepted message (FCM's name, JPush's msg_id).
    message_id: str = field(default="", compare=False)


class PushProvider(Protocol):
    name: str

    def send(
        self,
        *,
        tokens: list[str],
        data: dict[str, str],
        urgent: bool,
        collapse_key: str | None = None,
    ) -> list[PushResult]:
        """One result per token, in order. Raises ValueError on bad input before sending."""
        ...


def check_push_data(data: Mapping[str, Any]) -> dict[str, str]:
    """FCM data values are strings; reserved keys and oversized payloads are refused."""
    if not isinstance(data, Mapping):
        raise ValueError("push data must be a dict of strings")
    size = 0
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"push data key {key!r} must be a non-empty string")
        if not isinstance(value, str):
            raise ValueError(
                f"push data value for {key!r} must be a string, not {type(value).__name__}"
            )
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
            raise ValueError(f"push data key {key!r} is reserved by FCM")
        size += len(key.encode()) + len(value.encode())
    if size > MAX_DATA_BYTES:
        raise ValueError(f"push data is {size} bytes; the limit is {MAX_DATA_BYTES}")
    return dict(data)


def _check_send_args(tokens: Sequence[str], collapse_key: str | None) -> None:
    if isinstance(tokens, str) or not all(isinstance(t, str) and t for t in tokens):
        raise ValueError("tokens must be a list of non-empty strings")
    if len(tokens) > MAX_TOKENS_PER_SEND:
        raise ValueError(f"at most {MAX_TOKENS_PER_SEND} tokens per send")
    # 64 bytes is APNs' limit for apns-collapse-id.
    if collapse_key is not None and not (0 < len(collapse_key.encode()) <= 64):
        raise ValueError("collapse_key must be 1 to 64 bytes")


def token_digest(token: str) -> str:
    """The key `PushToken.token_digest` is stored under (see accounts.actions)."""
    return hashlib.sha256(token.encode()).hexdigest()


class LogProvider:
    """Development stand-in: logs each push and reports it delivered. Never use in production."""

    name = "log"

    def send(
        self,
        *,
        tokens: list[str],
        data: dict[str, str],
        urgent: bool,
        collapse_key: str | None = None,
    ) -> list[PushResult]:
        payload = check_push_data(data)
        _check_send_args(tokens, collapse_key)
        # Keys only: values may name a resident or an address.
        for token in tokens:
            logger.info(
                "push (log only) to %s… urgent=%s collapse_key=%s data keys=%s",
                token[:8],
                urgent,
                collapse_key,
                sorted(payload),
            )
        return [PushResult(token=token, ok=True) for token in tokens]


def _fcm_credentials_setting() -> str | Mapping[str, Any] | None:
    value = getattr(settings, "FCM_CREDENTIALS", None) or os.environ.get("FCM_CREDENTIALS_FILE")
    if isinstance(value, Path):
        return str(value)
    return value or None


class FCMProvider:
    """Firebase Cloud Messaging through firebase-admin (HTTP v1 API), one message per token.

    Retries: the SDK's own HTTP adapter retries 500 and 503 up to 4 times with exponential
    backoff (0, 1, 2, 4 s) and honours Retry-After on 429/503, and retries a failed connect or
    read once. We add no retry loop on top of that; instead each `send` has a deadline
    (FCM_SEND_DEADLINE_SECONDS), because a Retry-After from FCM could otherwise hold an alert
    worker for minutes. Tokens without an answer by then come back `retryable`; their SDK call
    finishes in a daemon thread and may still deliver, so messages must be idempotent on the
    phone (carry an event id).
    """

    name = "fcm"

    def __init__(
        self,
        *,
        credentials: str | Path | Mapping[str, Any] | None = None,
        project_id: str | None = None,
    ) -> None:
        certificate = credentials if credentials is not None else _fcm_credentials_setting()
        if not certificate:
            raise ImproperlyConfigured(
                "FCM needs a service account: set FCM_CREDENTIALS (path or dict) or the "
                "FCM_CREDENTIALS_FILE environment variable, or configure PUSH_PROVIDERS."
            )
        if isinstance(certificate, Path):
            certificate = str(certificate)
        elif isinstance(certificate, Mapping):
            certificate = dict(certificate)
        options: dict[str, Any] = {
            "httpTimeout": float(
                getattr(settings, "FCM_HTTP_TIMEOUT_SECONDS", FCM_HTTP_TIMEOUT_SECONDS)
            )
        }
        project_id = project_id or getattr(settings, "FCM_PROJECT_ID", None)
        if project_id:
            options["projectId"] = project_id
        self.urgent_ttl = int(getattr(settings, "PUSH_URGENT_TTL_SECONDS", URGENT_TTL_SECONDS))
        self.normal_ttl = int(getattr(settings, "PUSH_NORMAL_TTL_SECONDS", NORMAL_TTL_SECONDS))
        self.deadline = float(
            getattr(settings, "FCM_SEND_DEADLINE_SECONDS", FCM_SEND_DEADLINE_SECONDS)
        )
        # A named app of our own: never the process-wide default app, so that tests and other
        # code using firebase_admin cannot collide with it.
        self._app = firebase_admin.initialize_app(
            firebase_credentials.Certificate(certificate),
            options,
            name=f"gridline-fcm-{uuid.uuid4().hex}",
        )
        if not self._app.project_id:
            self.close()
            raise ImproperlyConfigured("FCM needs a project id: set FCM_PROJECT_ID.")

    @property
    def project_id(self) -> str:
        return str(self._app.project_id)

    def close(self) -> None:
        """Release the SDK app. Call from synchronous code (the SDK runs its own event loop)."""
        firebase_admin.delete_app(self._app)

    def send(
        self,
        *,
        tokens: list[str],
        data: dict[str, str],
        urgent: bool,
        collapse_key: str | None = None,
    ) -> list[PushResult]:
        payload = check_push_data(data)
        _check_send_args(tokens, collapse_key)
        messages = {
            token: self._message(token, payload, urgent=urgent, collapse_key=collapse_key)
            for token in tokens
        }
        return _send_within(self.deadline, tokens, lambda token: self._send_one(messages[token]))

    def _message(
        self, token: str, data: dict[str, str], *, urgent: bool, collapse_key: str | None
    ) -> messaging.Message:
        ttl = self.urgent_ttl if urgent else self.normal_ttl
        # Android: a data message the app turns into a notification; "high" wakes a dozing
        # phone. iOS: an urgent push must be a visible alert (priority 10); anything else is a
        # background push, which Apple requires at priority 5 and may delay or drop.
        apns_headers = {"apns-expiration": str(int(time.time()) + ttl)}
        if urgent:
            apns_headers |= {"apns-priority": "10", "apns-push-type": "alert"}
            aps = messaging.Aps(
                alert=messaging.ApsAlert(
                    title=data.get("title", URGENT_FALLBACK_TITLE),
                    body=data.get("body", URGENT_FALLBACK_BODY),
                ),
                sound="default",
                mutable_content=True,
                custom_data={"interruption-level": "time-sensitive"},
            )
        else:
            apns_headers |= {"apns-priority": "5", "apns-push-type": "background"}
            aps = messaging.Aps(content_available=True)
        if collapse_key:
            apns_headers["apns-collapse-id"] = collapse_key
        return messaging.Message(
            token=token,
            data=data,
            android=messaging.AndroidConfig(
                priority="high" if urgent else "normal",
                ttl=timedelta(seconds=ttl),
                collapse_key=collapse_key,
            ),
            apns=messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=aps)),
        )

    def _send_one(self, message: messaging.Message) -> PushResult:
        token = str(message.token)
        try:
            name = messaging.send(message, app=self._app)
        except firebase_exceptions.FirebaseError as error:
            return _fcm_failure(token, error)
        except google.auth.exceptions.GoogleAuthError as error:
            # The OAuth2 token exchange failed (bad key, clock skew, token endpoint down).
            retryable = error.retryable or isinstance(error, google.auth.exceptions.TransportError)
            return PushResult(token=token, ok=False, error=f"AUTH: {error}", retryable=retryable)
        return PushResult(token=token, ok=True, message_id=str(name or ""))


_RETRYABLE_FCM_ERRORS = (
    firebase_exceptions.UnavailableError,
    firebase_exceptions.InternalError,
    firebase_exceptions.DeadlineExceededError,
    firebase_exceptions.ResourceExhaustedError,  # QUOTA_EXCEEDED
    firebase_exceptions.UnknownError,
)


def _fcm_error_code(error: firebase_exceptions.FirebaseError) -> str:
    """FCM's own errorCode (UNREGISTERED, QUOTA_EXCEEDED, ...) when given, else the RPC code."""
    response = error.http_response
    if response is not None:
        try:
            details = response.json().get("error", {}).get("details", [])
        except (ValueError, AttributeError):
            details = []
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(".FcmError"):
                return str(detail.get("errorCode") or error.code)
    return str(error.code)


def _names_bad_token(error: firebase_exceptions.FirebaseError) -> bool:
    """INVALID_ARGUMENT is about the token, not the payload (FCM says so only in its message)."""
    return "registration token" in str(error).lower()


def _fcm_failure(token: str, error: firebase_exceptions.FirebaseError) -> PushResult:
    code = _fcm_error_code(error)
    # SENDER_ID_MISMATCH is not pruned: with a wrong service account every token would report
    # it, and pruning would wipe every phone's registration.
    unregistered = isinstance(
        error, messaging.UnregisteredError | firebase_exceptions.NotFoundError
    ) or (isinstance(error, firebase_exceptions.InvalidArgumentError) and _names_bad_token(error))
    retryable = not unregistered and isinstance(error, _RETRYABLE_FCM_ERRORS)
    log = logger.info if unregistered else logger.warning
    log("FCM refused %s…: %s %s", token[:8], code, error)
    return PushResult(
        token=token,
        ok=False,
        unregistered=unregistered,
        error=f"{code}: {error}",
        retryable=retryable,
    )


def _send_within(
    deadline: float, tokens: Sequence[str], send_one: Callable[[str], PushResult]
) -> list[PushResult]:
    """Send to every token concurrently; whatever has no answer after `deadline` s is retryable.

    Daemon threads, not an executor: a call stuck in an SDK backoff must not hold up the
    process's exit, and cannot be cancelled anyway.
    """
    results: dict[int, PushResult] = {}
    lock = threading.Lock()
    answered = threading.Semaphore(0)

    def run(index: int, token: str) -> None:
        try:
            result = send_one(token)
        except Exception as error:
            logger.exception("push to %s… failed unexpectedly", token[:8])
            result = PushResult(token=token, ok=False, error=f"CLIENT: {error!r}")
        with lock:
            results[index] = result
        answered.release()

    for index, token in enumerate(tokens):
        threading.Thread(target=run, args=(index, token), name=f"push-{index}", daemon=True).start()
    ends_at = time.monotonic() + deadline
    for _ in tokens:
        if not answered.acquire(timeout=max(0.0, ends_at - time.monotonic())):
            break
    with lock:
        done = dict(results)
    return [
        done.get(index)
        or PushResult(
            token=token,
            ok=False,
            error=f"DEADLINE_EXCEEDED: no answer within {deadline:g} s",
            retryable=True,
        )
        for index, token in enumerate(tokens)
    ]


# JPush ------------------------------------------------------------------------------------

# The phone makers' message classes per event kind (their "service & communication" classes,
# which are neither throttled nor folded away as marketing): README "Push classes". "TODO" is
# the name OPPO and vivo give their to-do/work-reminder category, not a marker.
_WORK = {"huawei": "WORK", "oppo": "TODO", "vivo": "TODO"}
_DEVICE = {"huawei": "DEVICE_REMINDER", "oppo": "DEVICE_REMINDER", "vivo": "DEVICE_REMINDER"}
VENDOR_CLASSES: dict[str, dict[str, str]] = {
    "emergency": _WORK,
    "help": _WORK,
    "device_offline": _DEVICE,
    "low_battery": _DEVICE,
}
JPUSH_TIMEOUT_SECONDS = 5


def vendor_channels(kind: str, urgent: bool) -> dict[str, dict[str, Any]]:
    """JPush `options.third_party_channel`: the class and importance each maker wants."""
    classes = VENDOR_CLASSES.get(kind, _WORK)
    channels: dict[str, dict[str, Any]] = {
        "huawei": {"category": classes["huawei"], "importance": "NORMAL" if urgent else "LOW"},
        "honor": {"importance": "NORMAL" if urgent else "LOW"},
        "oppo": {"category": classes["oppo"], "notify_level": 16 if urgent else 2},
        "vivo": {"classification": 1, "category": classes["vivo"]},
        "xiaomi": {},
    }
    for vendor in ("xiaomi", "oppo"):
        channel_id = getattr(settings, f"JPUSH_{vendor.upper()}_CHANNEL_ID", "")
        if channel_id:
            channels[vendor]["channel_id"] = channel_id
    channels["xiaomi"]["distribution"] = "ospush"
    return channels


class JPushProvider:
    """JPush (极光) through its official SDK `jpush`: one push per call to the tokens
    (registration ids) given, as a notification the phone maker's channel shows even when the
    app is not running, with our data as extras. The SDK has no retry of its own: a 5xx, a
    timeout or a refused connection comes back `retryable`; 1011 (no such registration) is a
    dead token."""

    name = "jpush"

    def __init__(self) -> None:
        import jpush

        key = getattr(settings, "JPUSH_APP_KEY", "")
        secret = getattr(settings, "JPUSH_MASTER_SECRET", "")
        if not key or not secret:
            raise ImproperlyConfigured("JPush needs JPUSH_APP_KEY and JPUSH_MASTER_SECRET")
        self._jpush = jpush
        timeout = float(getattr(settings, "JPUSH_TIMEOUT_SECONDS", JPUSH_TIMEOUT_SECONDS))
        self.client = jpush.JPush(key, secret, timeout=timeout)
        self.urgent_ttl = int(getattr(settings, "PUSH_URGENT_TTL_SECONDS", URGENT_TTL_SECONDS))
        self.normal_ttl = int(getattr(settings, "PUSH_NORMAL_TTL_SECONDS", NORMAL_TTL_SECONDS))

    def send(
        self,
        *,
        tokens: list[str],
        data: dict[str, str],
        urgent: bool,
        collapse_key: str | None = None,
    ) -> list[PushResult]:
        jpush = self._jpush
        payload = check_push_data(data)
        _check_send_args(tokens, collapse_key)
        title = payload.get("title", URGENT_FALLBACK_TITLE)
        body = payload.get("body", URGENT_FALLBACK_BODY)
        push = self.client.create_push()
        push.audience = jpush.audience(jpush.registration_id(*tokens))
        push.platform = jpush.all_
        push.notification = jpush.notification(
            alert=body,
            android=jpush.android(
                alert=body, title=title, priority=2 if urgent else 0, extras=payload
            ),
            ios=jpush.ios(
                alert={"title": title, "body": body},
                sound="default",
                extras=payload,
                interruption_level="time-sensitive" if urgent else None,
            ),
        )
        options: dict[str, Any] = {
            "time_to_live": self.urgent_ttl if urgent else self.normal_ttl,
            "apns_production": bool(getattr(settings, "JPUSH_APNS_PRODUCTION", False)),
            "classification": 1,  # JPush's own: a service message, not an operator's
            "third_party_channel": vendor_channels(payload.get("kind", ""), urgent),
        }
        if collapse_key:
            options["apns_collapse_id"] = collapse_key
        push.options = options
        try:
            response = push.send()
        except jpush.common.JPushFailure as error:
            return self._failure(tokens, error)
        except jpush.common.Unauthorized as error:
            return [PushResult(token=t, ok=False, error=f"UNAUTHORIZED: {error}") for t in tokens]
        except (jpush.common.APIConnectionException, jpush.common.APIRequestException) as error:
            return [
                PushResult(token=t, ok=False, error=f"CONNECTION: {error}", retryable=True)
                for t in tokens
            ]
        message_id = str((response.payload or {}).get("msg_id", ""))
        return [PushResult(token=t, ok=True, message_id=message_id) for t in tokens]

    def _failure(self, tokens: list[str], error: Any) -> list[PushResult]:
        status = getattr(error.response, "status_code", 0) or 0
        code = error.error_code
        unregistered = code == 1011
        retryable = not unregistered and (status >= 500 or status == 429 or code in (1030, 2002))
        log = logger.info if unregistered else logger.warning
        log("JPush refused: HTTP %s code %s %s", status, code, error.error)
        return [
            PushResult(
                token=t,
                ok=False,
                unregistered=unregistered,
                error=f"{status} {code}: {error.error}",
                retryable=retryable,
            )
            for t in tokens
        ]


# Registry ---------------------------------------------------------------------------------

_providers: dict[str, PushProvider] = {}
_providers_lock = threading.Lock()


def configured_providers() -> dict[str, str]:
    configured = getattr(settings, "PUSH_PROVIDERS", None)
    if configured:
        return dict(configured)
    production = getattr(settings, "PRODUCTION", False)
    fcm = _fcm_credentials_setting() or production
    jpush = getattr(settings, "JPUSH_APP_KEY", "") or production
    return {
        "fcm": f"backend.notify.push.{'FCMProvider' if fcm else 'LogProvider'}",
        "jpush": f"backend.notify.push.{'JPushProvider' if jpush else 'LogProvider'}",
    }


def get_provider(name: str) -> PushProvider:
    """The provider for `PushToken.provider` == name; built once per process and reused."""
    with _providers_lock:
        provider = _providers.get(name)
        if provider is None:
            providers = configured_providers()
            if name not in providers:
                raise ImproperlyConfigured(
                    f"No push provider {name!r}; PUSH_PROVIDERS has {sorted(providers)}."
                )
            provider = import_string(providers[name])()
            if isinstance(provider, LogProvider):
                logger.warning("push provider %r only logs: no FCM credentials configured", name)
            _providers[name] = provider
        return provider


def reset_providers() -> None:
    """Forget built providers (after a settings change), closing those that hold resources."""
    with _providers_lock:
        old = list(_providers.values())
        _providers.clear()
    for provider in old:
        close = getattr(provider, "close", None)
        if callable(close):
            close()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("PUSH_", "FCM_", "JPUSH_")):
        reset_providers()


def prune_unregistered(results: Iterable[PushResult]) -> int:
    """Delete the PushToken rows of tokens a provider reported dead; returns how many."""
    digests = {token_digest(result.token) for result in results if result.unregistered}
    if not digests:
        return 0
    _, per_model = PushToken.objects.filter(token_digest__in=digests).delete()
    return per_model.get(PushToken._meta.label, 0)
