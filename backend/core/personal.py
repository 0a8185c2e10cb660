"""How personal data is shown where the full value is not needed: a masked name, an age
instead of a birth date, a keyed digest to find a phone number by. (ID numbers have their own
mask and digest, in backend.people.idnumbers.)"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from django.conf import settings
from django.utils import timezone


def mask_name(name: str) -> str:
    """The first character, then one star per character left: 张桂英 -> 张**."""
    return name[:1] + "*" * (len(name) - 1)


def age_on(birth_date: date, day: date | None = None) -> int:
    """Full years on `day` (today, local time, by default)."""
    day = day or timezone.localdate()
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def keyed_digest(value: str) -> str:
    """HMAC-SHA256 under PII_DIGEST_KEY: a look-up key for personal data stored encrypted
    (an encrypted column cannot be filtered on), useless to someone without the key."""
    key = settings.PII_DIGEST_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def normalise_phone(phone: str) -> str:
    """A number as the gateways write it to us or we to them: digits only, and a mainland
    mobile without its country code (+86 13800000000, 8613800000000 -> 13800000000)."""
    digits = "".join(c for c in phone if c in "0123456789")
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and rest.startswith("1"):
            return rest
    return digits


def phone_digest(phone: str) -> str:
    """The keyed digest a phone number is found by (the outbox's `to_digest`, SMS replies)."""
    return keyed_digest(f"phone:{normalise_phone(phone)}")
