from django.http import HttpRequest
from ninja import Router, Status

from backend.accounts import actions
from backend.audit.actions import client_of
from backend.core.api_errors import responses

from .schemas import LoginIn, RefreshIn, TokenOut

router = Router(tags=["auth"])


@router.post("/login", auth=None, response=responses({200: TokenOut}, 400, 401, 422, 429))
def login(request: HttpRequest, payload: LoginIn) -> actions.TokenPair:
    return actions.do_login(
        request=request, phone=payload.phone, password=payload.password, client=client_of(request)
    )


@router.post("/refresh", auth=None, response=responses({200: TokenOut}, 400, 401, 422))
def refresh(request: HttpRequest, payload: RefreshIn) -> actions.TokenPair:
    return actions.do_refresh(refresh_token=payload.refresh_token)


@router.post("/logout", response=responses({204: None}, 401))
def logout(request: HttpRequest) -> Status[None]:
    actions.do_logout(session=request.auth)  # type: ignore[attr-defined]
    return Status(204, None)
