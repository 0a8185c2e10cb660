# SMS replies are matched by the number the message went to: its digest, indexed without
# blocking the outbox's writers on PostgreSQL.

from django.db import migrations, models

from backend.core.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notify", "0002_sms_replies"),
    ]

    operations = [
        AddIndexOnline(
            model_name="outboxmessage",
            index=models.Index(
                condition=~models.Q(to_digest=""),
                fields=["to_digest", "sent_at"],
                name="outbox_to_digest",
            ),
        ),
    ]
