from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "backend.territory"
    label = "territory"
