"""The error body every endpoint documents (owned by backend/core/api_errors.py)."""

from __future__ import annotations

from backend.core.api_errors import ErrorOut, responses

__all__ = ["ErrorOut", "responses"]
