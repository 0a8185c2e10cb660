
from django.http import HttpRequest
from ninja import Router

from backend.accounts import actions
from backend.audit.actions import client_of
from mobile_api.errors import ErrorOut

from .schemas import LoginIn, RefreshIn, TokenOut

router = Router(tags=["auth"])


@router.post("/login", auth=None, response={200: TokenOut, 401: ErrorOut, 422: ErrorOut,
                                            429: ErrorOut})
def login(request: HttpRequest, payload: LoginIn) -> actions.TokenPair:
    return actions.do_login(
        request=request, phone=payload.phone, password=payload.password, client=client_of(request)
    )


@router.post("/refresh", auth=None, response={200: TokenOut, 401: ErrorOut, 422: ErrorOut})
def refresh(request: HttpRequest, payload: RefreshIn) -> actions.TokenPair:
    return actions.do_refresh(refresh_token=payload.refresh_token)


@router.post("/logout", response={204: None, 401: ErrorOut})
def logout(request: HttpRequest) -> tuple[int, None]:
    actions.do_logout(session=request.auth)  # type: ignore[attr-defined]
    return 204, None
