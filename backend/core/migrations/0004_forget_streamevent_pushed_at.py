"""Contract step for the stream's `pushed_at` (pushes go through the outbox), in two releases.

The previous release no longer wrote or read it but kept the field on the model (its SELECTs
name the column). This release removes the field from the model only (no SQL); the next
release drops the column (docs/operations.md, pending contract steps)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_drop_stream_push_pending_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="streamevent", name="pushed_at"),
            ],
        ),
    ]
