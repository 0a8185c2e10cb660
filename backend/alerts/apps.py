from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"

    def ready(self) -> None:
        from backend.core import dispatcher, metrics
        from backend.notify import outbox

        from . import timers  # noqa: F401  (registers the clock handlers)
        from .delivery import on_outbox
        from .selectors import unaccepted_past_tiers
        from .signing import prune_nonces

        dispatcher.register_housekeeping("device_nonces", prune_nonces)
        outbox.register_listener("alert", on_outbox)
        metrics.register_gauge(
            "gridline_alerts_unaccepted",
            "Open help alerts nobody accepted although ALERT_UNACCEPTED_TIERS tiers were called.",
            unaccepted_past_tiers,
            labels=["kind"],
        )
