"""Open311 API keys: issued (and re-issued) here, shown once to whoever issues them; only the
SHA-256 digest is stored (GeoReport clients send the key with every request)."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from backend.servicedesk.models import Open311Key

KEY_PREFIX = "o311_"


def new_api_key() -> tuple[str, str, str]:
    """(key, prefix, SHA-256 digest): the key is shown once and never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    return key, key[:8], hashlib.sha256(key.encode()).hexdigest()


def do_issue_open311_key(*, key: Open311Key) -> str:
    """Give a new or existing key a fresh secret and save it; the old secret, if any, stops
    working at once. Returns the secret, to be shown once."""
    raw, key.prefix, key.digest = new_api_key()
    with transaction.atomic():
        if key.pk is None:
            key.save()
        else:
            key.save(update_fields=["prefix", "digest"])
    return raw
