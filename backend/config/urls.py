from functools import partial

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from ninja.openapi.docs import Redoc

from backend.core.errors import error_body
from backend.photos.views import serve_photo
from board.api import api as board_api
from mobile_api.api import api

# Swagger UI is each API's docs_url (/docs); ReDoc beside it. Both from Ninja's static files.
redoc = Redoc()

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/redoc", partial(redoc.render_page, api=api), name="api-v1-redoc"),
    path("api/v1/", api.urls),
    path("board/api/redoc", partial(redoc.render_page, api=board_api), name="board-api-redoc"),
    path("photos/<str:token>", serve_photo, name="photo"),
    path("board/", include("board.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("mobile_api.open311.urls")),
]


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found"), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("internal_error"), status=500)


handler404 = json_404
handler500 = json_500
