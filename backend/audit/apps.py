from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "backend.audit"
    label = "audit"

    def ready(self) -> None:
        from backend.core import dispatcher

        from . import timers  # noqa: F401  (registers the daily archive)
        from .actions import seal_events

        dispatcher.register_housekeeping("audit_seal", seal_events)
