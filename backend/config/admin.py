"""The Django admin behind the board's log-in: password under the lock-out, then the TOTP
code (django-otp's verified session), as django-otp's OTPAdminSite asks, but through one
log-in form. The admin's own form posted `username`, which the lock-out never saw."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from backend.accounts.actions import live_board_session
from board.auth import SESSION_SID


class GridlineAdminSite(admin.AdminSite):
    site_header = "gridline"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        verified = getattr(user, "is_verified", lambda: False)()
        if not (user.is_active and user.is_staff and verified):
            return False
        # The board's session row: its log-out (or a revocation) ends the admin's too.
        return live_board_session(request.session.get(SESSION_SID), user) is not None

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index"), reverse("board:login")
        )

    def logout(  # type: ignore[override]
        self, request: HttpRequest, extra_context: Any = None
    ) -> HttpResponse:
        """The board's log-out: revokes the session row and ends the Django log-in."""
        from board.views import logout

        return logout(request)
