from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "backend.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk 一口受理"

    def ready(self) -> None:
        from . import timers  # noqa: F401  (registers the SLA clock handlers)
