from functools import partial

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from ninja.openapi.docs import Redoc

from backend.community.views import notice_link
from backend.core.errors import ApiError, NotFound, error_response
from backend.core.metrics import metrics_view
from backend.photos.views import serve_photo
from board.api import api as board_api
from mobile_api.api import api

# Swagger UI is each API's docs_url (/docs); ReDoc beside it. Both from Ninja's static files.
redoc = Redoc()


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown paths under /api/: the JSON 404 also with DEBUG on, whose technical 404 page
    would otherwise bypass handler404."""
    return error_response(request, NotFound())


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/redoc", partial(redoc.render_page, api=api), name="api-v1-redoc"),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("board/api/redoc", partial(redoc.render_page, api=board_api), name="board-api-redoc"),
    path("photos/<str:token>", serve_photo, name="photo"),
    path("n/<str:token>", notice_link, name="notice-link"),
    path("board/", include("board.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("mobile_api.open311.urls")),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; token or network only
]


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, exception or ApiError("validation_error"))


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, exception or ApiError("permission_denied", status=403))


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, NotFound())


def json_500(request: HttpRequest) -> JsonResponse:
    return error_response(request, ApiError("internal_error", status=500))


handler400 = json_400
handler403 = json_403
handler404 = json_404
handler500 = json_500
