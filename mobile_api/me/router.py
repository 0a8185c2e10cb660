from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from backend.accounts import actions
from backend.accounts.models import PushToken
from backend.accounts.selectors import shifts_on_duty, shifts_today
from backend.core.api_errors import responses
from mobile_api.schemas import FixIn
from mobile_api.security import caller

from .schemas import MeOut, PushTokenIn, PushTokenOut

router = Router(tags=["me"])


@router.get("", response=responses({200: MeOut}, 401))
def me(request: HttpRequest) -> dict[str, Any]:
    user = caller(request)
    return {
        "id": user.pk,
        "phone": user.phone,
        "name": user.name,
        "role": user.role,
        "community_id": user.community_id,
        "district_id": user.district_id,
        "resident_id": user.resident_id,
        "b_post_grids": [b.grid for b in user.b_posts.select_related("grid").order_by("grid_id")],
        "a_posts": list(user.a_posts.values("community_id", "line").order_by("pk")),
        "on_duty": shifts_on_duty(user).exists(),
        "shifts_today": list(shifts_today(user)),
    }


@router.post("/push-tokens", response=responses({201: PushTokenOut}, 400, 401, 409, 422))
def register_push_token(request: HttpRequest, payload: PushTokenIn) -> Status[PushToken]:
    token = actions.do_register_push_token(
        user=caller(request),
        token=payload.token,
        platform=payload.platform,
        provider=payload.provider,
    )
    return Status(201, token)


@router.post("/position", response=responses({204: None}, 400, 401, 403, 422))
def report_position(request: HttpRequest, payload: FixIn) -> Status[None]:
    """A worker's phone reports where it is while on duty (also possible over the socket)."""
    actions.do_report_position(user=caller(request), fix=payload.fix())
    return Status(204, None)
