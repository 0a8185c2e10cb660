"""Input types shared by the schemas (owned by backend/core/text.py)."""

from __future__ import annotations

from backend.core.text import Text

__all__ = ["Text"]
