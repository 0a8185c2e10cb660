from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"

    def ready(self) -> None:
        from . import timers  # noqa: F401  (registers the clock handlers)
