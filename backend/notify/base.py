"""What every sender answers for one outbox row (push, SMS or voice)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    """Accepted (with the provider's message id), or failed: retryable (5xx, timeout,
    throttling) or not (bad number, no registration, refused template). `skipped` means there
    was nobody to send to (no push token, no phone): the rung is passed, not failed."""

    ok: bool
    provider: str
    message_id: str = ""
    retryable: bool = False
    error: str = ""
    skipped: bool = False
