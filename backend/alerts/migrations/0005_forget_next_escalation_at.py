"""Contract step of issue 9's one stored escalation deadline, in two releases.

The release before this one stopped writing and reading `next_escalation_at` but kept the
field on the model, so its SELECTs still name the column. This release removes the field from
the model only (no SQL): the column stays, nullable and unused, while the previous release may
still run beside this one. The next release drops it (docs/operations.md, pending contract
steps)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_alert_resident_recent_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="alert", name="next_escalation_at"),
            ],
        ),
    ]
