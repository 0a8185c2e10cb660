"""Encrypted model fields for personal data (PIPL): Fernet with rotatable keys.

We do not use django-fernet-encrypted-fields: it derives its keys from SECRET_KEY (rotating the
session secret would touch personal data) and returns the ciphertext as if it were the value
when decryption fails, which would show garbage as an ID number instead of failing loudly.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    """Encrypts with the first key of FIELD_ENCRYPTION_KEYS, decrypts with any of them."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; cannot be filtered on (use a digest column for look-up)."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return fernet().encrypt(str(value).encode()).decode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return fernet().decrypt(value.encode()).decode()
