from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "backend.audit"
    label = "audit"

    def ready(self) -> None:
        from backend.core import dispatcher

        from .actions import housekeeping

        dispatcher.register_housekeeping("audit", housekeeping)
