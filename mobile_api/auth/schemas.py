from __future__ import annotations

from ninja import Schema
from pydantic import Field

from backend.core.text import Text


class LoginIn(Schema):
    phone: Text = Field(min_length=1, max_length=20)
    password: Text = Field(min_length=1, max_length=128)


class RefreshIn(Schema):
    refresh_token: Text = Field(min_length=1, max_length=200)


class TokenOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int
