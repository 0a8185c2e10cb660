from __future__ import annotations

from ninja import Schema
from pydantic import Field


class LoginIn(Schema):
    phone: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=128)


class RefreshIn(Schema):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
