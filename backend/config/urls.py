from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from backend.core.errors import error_body
from backend.photos.views import serve_photo
from mobile_api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
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
