"""Password policy (MLPS 2.0 level 3: length and complexity): with Django's validators for
length, similarity to the phone number and name, common and all-digit passwords."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")


class CharacterClassesValidator:
    """At least `min_classes` of: lower case, upper case, digits, other characters."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if sum(1 for c in CLASSES if re.search(c, password)) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return (
            f"密码须包含以下至少 {self.min_classes} 类字符：小写字母、大写字母、数字、符号。"
            f" The password needs {self.min_classes} of: lower case, upper case, digits, symbols."
        )
