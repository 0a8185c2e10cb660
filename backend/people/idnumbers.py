"""Resident ID numbers (居民身份证号, GB 11643-1999): checksum, masking and a keyed digest."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalise(raw: str) -> str:
    return raw.strip().upper()


def is_valid(raw: str) -> bool:
    value = normalise(raw)
    return bool(_SHAPE.match(value)) and check_digit(value[:17]) == value[17]


def mask(value: str) -> str:
    """340705********123X: region and last four only."""
    return value[:6] + "*" * 8 + value[-4:]


def digest(value: str) -> str:
    """Keyed digest for uniqueness and look-up without decrypting every row."""
    key = settings.PII_DIGEST_KEY.encode()
    return hmac.new(key, normalise(value).encode(), hashlib.sha256).hexdigest()
