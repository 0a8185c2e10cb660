from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "backend.visits"
    label = "visits"

    def ready(self) -> None:
        from . import signals, timers  # noqa: F401  (clock handlers, grid reassignment)
