from django.urls import path

from . import views
from .api import api

app_name = "board"

urlpatterns = [
    path("", views.page, name="page"),
    path("assessment/", views.assessment, name="assessment"),
    path("login/", views.login, name="login"),
    path("login/verify/", views.verify, name="verify"),
    path("logout/", views.logout, name="logout"),
    path("api/", api.urls),
]
