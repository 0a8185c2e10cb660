"""Rate limits (MLPS 2.0 / abuse): counted in the cache — Redis when REDIS_URL is set, so all
processes share the count; the process's memory on the embedded default — by django-ratelimit
(fixed windows, an atomic `incr` on Redis). Past the limit: 429 `rate_limited` with
Retry-After (the seconds left in the window) and the JSON error. When the counters cannot be
reached (Redis away, a Sentinel failover under way): 503 `service_busy` with Retry-After, so
that nothing passes uncounted and callers retry once the new master answers.

Presses are not limited here: a press is never refused (backend/alerts folds repeats).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from .errors import ApiError


class RateLimited(ApiError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited")
        self.retry_after = max(1, retry_after)


def check_rate(request: HttpRequest, *, group: str, key: str) -> None:
    """Count one request of `group` for `key` (an account, an IP address) against
    RATE_LIMITS[group] ("30/m"); raise RateLimited past it."""
    rate = settings.RATE_LIMITS.get(group)
    if not rate:
        return
    try:
        usage: dict[str, Any] | None = get_usage(
            request,
            group=f"{settings.RATE_LIMIT_SCOPE}{group}",
            key=lambda _group, _request: key,
            rate=rate,
            increment=True,
        )
    except (RedisError, ConnectionInterrupted) as exc:
        raise ApiError("service_busy", status=503) from exc
    if usage is not None and usage["should_limit"]:
        raise RateLimited(int(usage["time_left"]))
