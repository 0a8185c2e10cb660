from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "backend.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk 一口受理"

    def ready(self) -> None:
        from backend.visits import seams

        from . import referrals, timers  # noqa: F401  (timers registers the SLA clock handlers)

        seams.register_case_opener(referrals.open_case_for_finding)
