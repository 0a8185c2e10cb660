"""The board's pages: log-in (phone + password, then the TOTP code), the board, log-out."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from backend.accounts.actions import (
    BOARD_ROLES,
    check_board_password,
    check_second_factor,
    do_logout,
    do_start_board_session,
    totp_device,
)
from backend.accounts.models import User
from backend.core.errors import ApiError, message

from .auth import SESSION_SID, board_user
from .text import texts

PENDING = "board_pending"  # the user who passed the password, waiting for the code
PENDING_SECONDS = 300


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    lang = translation.get_language() or settings.LANGUAGE_CODE
    return render(
        request,
        template,
        {"t": texts(lang), "lang": lang, "languages": settings.LANGUAGES, **context},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if board_user(request) is not None:
        return HttpResponseRedirect(reverse("board:page"))
    if request.method == "GET":
        return _page(request, "board/login.html", next=_next(request))
    phone = request.POST.get("phone", "").strip()
    try:
        user = check_board_password(
            request=request, phone=phone, password=request.POST.get("password", "")
        )
        if totp_device(user) is None:
            raise ApiError("otp_not_enrolled", status=403)
    except ApiError as exc:
        return _page(
            request,
            "board/login.html",
            status=exc.status,
            error=message(exc.code),
            phone=phone,
            next=_next(request),
        )
    request.session.cycle_key()
    request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": _next(request)}
    return HttpResponseRedirect(reverse("board:verify"))


def _next(request: HttpRequest) -> str:
    """Where to go after the code: the admin sends its users here with ?next=/admin/...;
    only a path on this site is followed."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _landing(user: User, target: str) -> str:
    if target:
        return target
    return reverse("board:page") if user.role in BOARD_ROLES else reverse("admin:index")


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        request.session.pop(PENDING, None)
        return _page(request, "board/login.html", status=401, error=message("login_expired"))
    if request.method == "GET":
        return _page(request, "board/verify.html")
    try:
        device = check_second_factor(user=user, token=request.POST.get("code", ""))
    except ApiError as exc:
        return _page(request, "board/verify.html", status=exc.status, error=message(exc.code))
    target = str(request.session.pop(PENDING).get("next") or "")
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    session = do_start_board_session(user=user, client=request.headers.get("User-Agent", ""))
    request.session[SESSION_SID] = str(session.pk)
    return HttpResponseRedirect(_landing(user, target))


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Revoke the board session (its socket closes within a second) and end the log-in."""
    who = board_user(request)
    if who is not None:
        do_logout(session=who[1])
    auth_logout(request)
    return HttpResponseRedirect(reverse("board:login"))


@never_cache
def page(request: HttpRequest) -> HttpResponse:
    who = board_user(request)
    if who is None:
        return HttpResponseRedirect(reverse("board:login"))
    user, _ = who
    lang = translation.get_language() or settings.LANGUAGE_CODE
    config = {
        "lang": lang,
        "csrf": get_token(request),
        "me": {"id": user.pk, "name": user.name, "role": user.role},
        "urls": {
            "state": reverse("board:api:state"),
            "grids": reverse("board:api:grids"),
            "panels": reverse("board:api:panels"),
            "households": reverse("board:api:households"),
            "ticket": reverse("board:api:ticket"),
            "alerts": reverse("board:page") + "api/alerts/",
            "login": reverse("board:login"),
        },
        "tileUrl": settings.TILE_URL,
        "tileAttribution": settings.TILE_ATTRIBUTION,
        "center": settings.BOARD_CENTER,
        "householdsZoom": 16,
        "gridCountsOver": settings.BOARD_GRID_COUNTS_OVER,
        "text": texts(lang),
    }
    return _page(request, "board/board.html", config=config, user=user)


@never_cache
def assessment(request: HttpRequest) -> HttpResponse:
    """The assessment page (考核): charts drawn by ECharts from /board/api/assessment."""
    who = board_user(request)
    if who is None:
        return HttpResponseRedirect(reverse("board:login"))
    user, _ = who
    lang = translation.get_language() or settings.LANGUAGE_CODE
    config = {
        "lang": lang,
        "urls": {"charts": reverse("board:api:assessment"), "board": reverse("board:page")},
        "text": texts(lang),
    }
    return _page(request, "board/assessment.html", config=config, user=user)
