from django.http import HttpRequest
from ninja import Router, Schema, Status

from backend.core.health import check_health

router = Router(tags=["health"])


class OutboxHealthOut(Schema):
    backlog_seconds: float
    failing_providers: list[str]


class HealthOut(Schema):
    status: str
    database: str
    channel_layer: str
    pending_migrations: list[str]
    outbox: OutboxHealthOut | None = None


@router.get("", auth=None, response={200: HealthOut, 503: HealthOut})
def health(request: HttpRequest) -> Status[dict[str, object]]:
    report = check_health()
    return Status(200 if report["status"] == "ok" else 503, report)


class LiveOut(Schema):
    status: str


@router.get("/live", auth=None, response=LiveOut)
def live(request: HttpRequest) -> dict[str, str]:
    """Liveness: the process answers (no database, no Redis; /health is the readiness)."""
    return {"status": "ok"}
