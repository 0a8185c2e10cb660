from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"

    def ready(self) -> None:
        from backend.core import dispatcher, metrics

        from . import timers  # noqa: F401  (registers the clock handlers)
        from .selectors import unaccepted_past_tiers
        from .signing import prune_nonces

        dispatcher.register_housekeeping("device_nonces", prune_nonces)
        metrics.register_gauge(
            "gridline_alerts_unaccepted",
            "Open help alerts nobody accepted although ALERT_UNACCEPTED_TIERS tiers were called.",
            unaccepted_past_tiers,
            labels=["kind"],
        )
