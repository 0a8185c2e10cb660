from django.http import HttpRequest
from ninja import Router, Schema

from backend.accounts.actions import do_issue_ticket
from backend.core.api_errors import responses

router = Router(tags=["realtime"])


class TicketOut(Schema):
    ticket: str
    expires_in: int
    url: str


@router.post("/ticket", response=responses({200: TicketOut}, 401))
def ticket(request: HttpRequest) -> dict[str, object]:
    """A one-time ticket (30 s) to open ws(s)://<host>/ws/v1/stream?ticket=...&last_event_id=N."""
    value, expires_in = do_issue_ticket(session=request.auth)  # type: ignore[attr-defined]
    return {"ticket": value, "expires_in": expires_in, "url": f"/ws/v1/stream?ticket={value}"}
