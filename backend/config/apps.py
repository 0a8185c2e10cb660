"""The admin app with our site (backend/config/admin.py): behind the board's log-in."""

from django.contrib.admin.apps import AdminConfig


class GridlineAdminConfig(AdminConfig):
    default_site = "backend.config.admin.GridlineAdminSite"
