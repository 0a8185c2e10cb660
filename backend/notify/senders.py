"""How the outbox sends each channel: a push to every phone the user registered (through the
provider each registered with), a template SMS, a voice call. Registered in NotifyConfig.ready."""

from __future__ import annotations

from backend.accounts.models import PushToken, User

from . import sms, voice
from .base import SendResult
from .models import OutboxMessage
from .push import get_provider, prune_unregistered


def _phone(row: OutboxMessage) -> str:
    if row.to:
        return row.to
    if row.user_id is None:
        return ""
    return User.objects.filter(pk=row.user_id).values_list("phone", flat=True).first() or ""


def send_push(row: OutboxMessage) -> SendResult:
    tokens: dict[str, list[str]] = {}
    if row.user_id is None:
        return SendResult(ok=False, provider="", error="a push needs a user", skipped=True)
    for provider, token in PushToken.objects.filter(user_id=row.user_id).values_list(
        "provider", "token"
    ):
        tokens.setdefault(provider, []).append(token)
    if not tokens:
        return SendResult(ok=False, provider="", error="no push registration", skipped=True)
    data = {k: str(v) for k, v in row.params.items()}
    key = f"{data.get('type', 'event')}-{data.get('alert_id') or data.get('event_id', '')}"[:64]
    ok: list[tuple[str, str]] = []
    errors: list[str] = []
    retryable = False
    for name, provider_tokens in sorted(tokens.items()):
        results = get_provider(name).send(
            tokens=provider_tokens, data=data, urgent=True, collapse_key=key
        )
        prune_unregistered(results)
        ok += [(name, r.message_id) for r in results if r.ok]
        errors += [f"{name}: {r.error}" for r in results if not r.ok]
        retryable |= any(r.retryable for r in results)
    providers = ",".join(sorted(tokens))[:20]
    if ok:
        return SendResult(ok=True, provider=ok[0][0], message_id=ok[0][1])
    return SendResult(
        ok=False, provider=providers, error="; ".join(errors)[:500], retryable=retryable
    )


def send_sms(row: OutboxMessage) -> SendResult:
    phone = _phone(row)
    if not phone:
        return SendResult(ok=False, provider="", error="no phone number", skipped=True)
    try:
        return sms.send_template(
            phone=phone, template=row.template, params=row.params, out_id=str(row.public_id)
        )
    except ValueError as error:
        return SendResult(ok=False, provider="", error=f"invalid: {error}")


def send_voice(row: OutboxMessage) -> SendResult:
    phone = _phone(row)
    if not phone:
        return SendResult(ok=False, provider="", error="no phone number", skipped=True)
    try:
        call = voice.voice_call(
            phone=phone, template=row.template, params=row.params, out_id=str(row.public_id)
        )
    except ValueError as error:
        return SendResult(ok=False, provider="", error=f"invalid: {error}")
    return voice.get_voice_backend().call(call)
