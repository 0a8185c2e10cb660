from django.urls import path

from . import api, views

app_name = "board"

urlpatterns = [
    path("", views.page, name="page"),
    path("login/", views.login, name="login"),
    path("login/verify/", views.verify, name="verify"),
    path("logout/", views.logout, name="logout"),
    path("api/state", api.state, name="state"),
    path("api/grids", api.grids, name="grids"),
    path("api/panels", api.panels, name="panels"),
    path("api/households", api.households, name="households"),
    path("api/ticket", api.ticket, name="ticket"),
    path("api/alerts/<int:alert_id>", api.alert_detail, name="alert"),
    path("api/alerts/<int:alert_id>/assign", api.assign, name="assign"),
    path("api/alerts/<int:alert_id>/notes", api.add_note, name="notes"),
]
