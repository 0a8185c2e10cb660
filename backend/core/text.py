"""Text that PostgreSQL can store: the input type every API schema uses for free text."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8.
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError("field_invalid")
    return value


Text = Annotated[str, AfterValidator(_storable)]
