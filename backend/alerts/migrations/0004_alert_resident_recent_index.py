# The fold's look-up (a resident's open or recent alert of a kind), built without blocking
# presses on PostgreSQL.

from django.db import migrations, models

from backend.core.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0003_alarm_accounts_fire_and_repeats"),
    ]

    operations = [
        AddIndexOnline(
            model_name="alert",
            index=models.Index(
                fields=["resident", "kind", "-created_at"], name="alert_resident_recent"
            ),
        ),
    ]
