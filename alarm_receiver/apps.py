from django.apps import AppConfig


class AlarmReceiverConfig(AppConfig):
    name = "alarm_receiver"
    verbose_name = "SIA DC-09 alarm receiver"
