from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"

    def ready(self) -> None:
        from backend.core import dispatcher
        from backend.notify import outbox

        from . import timers  # noqa: F401  (registers the clock handlers)
        from .delivery import on_outbox
        from .signing import prune_nonces

        dispatcher.register_housekeeping("device_nonces", prune_nonces)
        outbox.register_listener("alert", on_outbox)
