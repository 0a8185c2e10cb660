"""Encrypted model fields for personal data (PIPL): Fernet with rotatable keys.

We do not use django-fernet-encrypted-fields: it derives its keys from SECRET_KEY (rotating the
session secret would touch personal data) and returns the ciphertext as if it were the value
when decryption fails, which would show garbage as an ID number instead of failing loudly.
"""

from __future__ import annotations

import json
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


class EncryptedJSONField(models.TextField):
    """A JSON value (e.g. a visit's checklist with its health notes) stored as a Fernet token
    of its JSON text; cannot be filtered on."""

    # For django-stubs: any JSON value in and out (a TextField is str).
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return fernet().encrypt(text.encode()).decode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return json.loads(fernet().decrypt(value.encode()))

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: Any) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)


def encrypt_column(
    apps: Any, schema_editor: Any, *, app: str, model: str, fields: list[str]
) -> None:
    """Migration helper: encrypt the clear values a column held before it became encrypted
    (rows already holding a Fernet token of the current keys are left alone)."""
    from cryptography.fernet import InvalidToken

    table = apps.get_model(app, model)._meta.db_table
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cols = ", ".join(quote(f) for f in fields)
        cursor.execute(f"SELECT id, {cols} FROM {quote(table)}")  # noqa: S608
        rows = cursor.fetchall()
        for pk, *values in rows:
            new: list[Any] = []
            for value in values:
                if value is None:
                    new.append(None)
                    continue
                try:
                    fernet().decrypt(str(value).encode())
                    new.append(value)
                except InvalidToken:
                    new.append(fernet().encrypt(str(value).encode()).decode())
            sets = ", ".join(f"{quote(f)} = %s" for f in fields)
            cursor.execute(
                f"UPDATE {quote(table)} SET {sets} WHERE id = %s",  # noqa: S608
                [*new, pk],
            )


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted columns, and their attribute names."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedTextField | EncryptedJSONField)
        ]
        if names:
            found.append((model, names))
    return found


def rotate_keys(*, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value that the newest key (the first of
    FIELD_ENCRYPTION_KEYS) did not encrypt; returns how many rows changed per model. Rows are
    locked while they are rewritten, so a concurrent edit is never overwritten by its older
    value. When it reports nothing left, the old keys can be dropped from the setting."""
    from django.db import transaction
    from django.db.models import F, TextField, Value
    from django.db.models.functions import Cast

    newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode())
    rotated: dict[str, int] = {}
    for model, names in encrypted_fields():
        label = model._meta.label
        rotated[label] = 0
        raw = {f"raw_{name}": Cast(F(name), output_field=TextField()) for name in names}
        last_pk: Any = None
        while True:
            with transaction.atomic():
                rows = model._default_manager.select_for_update().order_by("pk")
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                chunk = list(rows.annotate(**raw).values("pk", *raw)[:batch])
                for row in chunk:
                    changes = {
                        name: Value(fernet().rotate(token.encode()).decode(), TextField())
                        for name in names
                        if (token := row[f"raw_{name}"]) and not _by(newest, token)
                    }
                    if changes:
                        model._default_manager.filter(pk=row["pk"]).update(**changes)
                        rotated[label] += 1
            if len(chunk) < batch:
                break
            last_pk = chunk[-1]["pk"]
    return rotated


def _by(key: Fernet, token: str) -> bool:
    from cryptography.fernet import InvalidToken

    try:
        key.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
